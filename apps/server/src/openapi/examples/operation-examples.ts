export interface OperationExamples {
  /** The request body's example (every media type of it). */
  request?: unknown;
  /** Status → the response body's example, or media type → example where a response has several. */
  responses?: Record<string, unknown>;
}
