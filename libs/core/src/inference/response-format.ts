// response_format of a chat request → the schema its answer is constrained to (or none).
import { compileSchema, SchemaError, SchemaNode, unsupportedKeywords } from '@engram/inference';
import { ChatResponseFormatDto } from '../dtos/chat-completion.dto';
import { EngramError } from '../errors/engram.error';

/** The compiled schema; a 400 naming the field when it is missing or uses what is not supported. */
export function responseSchema(format: ChatResponseFormatDto | undefined, stop?: readonly string[]): SchemaNode | null {
  if (!format || format.type === 'text') return null;
  // A stop string would end the answer wherever it occurs inside the document: invalid JSON with finish_reason "stop".
  if (stop?.length) throw EngramError.validation([{ field: 'stop', problems: ['stop cannot be used with a json_schema or json_object response_format: the answer ends when its JSON document is complete'] }]);
  if (format.type === 'json_object') return compileSchema({ type: 'object' });
  const schema = format.json_schema?.schema;
  if (schema === undefined) {
    throw EngramError.validation([{ field: 'response_format.json_schema.schema', problems: ['a json_schema response format needs json_schema.schema'] }]);
  }
  const unsupported = unsupportedKeywords(schema, 'response_format.json_schema.schema');
  if (unsupported.length > 0) {
    throw EngramError.validation(unsupported.map((field) => ({ field, problems: [`the keyword "${field.slice(field.lastIndexOf('.') + 1)}" is not supported for structured output`] })));
  }
  try {
    return compileSchema(schema, 'response_format.json_schema.schema');
  } catch (error) {
    if (error instanceof SchemaError) throw EngramError.validation([{ field: error.path, problems: [error.message.slice(error.path.length + 2)] }]);
    throw error;
  }
}
