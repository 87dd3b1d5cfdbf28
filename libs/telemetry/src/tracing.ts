/**
 * Optional OpenTelemetry tracing (ADR 0505). `startTracing` must run before http, express and
 * pg are first required (the instrumentations patch them on load), so the CLI calls it from its
 * first import. When tracing is off nothing here loads an OpenTelemetry module, and
 * `activeTraceIds` answers null at once.
 */
import type { TracingConfig } from '@engram/config';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type * as OtelApi from '@opentelemetry/api';

export interface TraceIds {
  traceId: string;
  spanId: string;
}

/** Paths whose requests are not traced: scrapes, probes and static files would drown the real work. */
const UNTRACED = /^\/(metrics|health(z)?|ready|ui(\/|$)|docs)/;

/** The span attribute that carries engram's request id (the X-Request-Id header, the logs' `req.id`). */
export const REQUEST_ID_ATTRIBUTE = 'engram.request_id';

let sdk: NodeSDK | null = null;
let api: typeof OtelApi | null = null;

export function tracingEnabled(): boolean {
  return sdk !== null;
}

/** Starts the SDK with an OTLP/HTTP (JSON) exporter and the http, express and pg instrumentations. */
export function startTracing(config: TracingConfig, defaultServiceName: string): void {
  if (sdk) return;
  // Loaded only when tracing is on, and synchronously: before http, express and pg.
  const { NodeSDK: Sdk } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  api = require('@opentelemetry/api') as typeof OtelApi;
  sdk = new Sdk({
    serviceName: config.serviceName ?? defaultServiceName,
    traceExporter: new OTLPTraceExporter({ url: config.tracesUrl }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED.test(req.url ?? ''),
        // The server's request id (X-Request-Id) is on the request by the time it ends: link it.
        applyCustomAttributesOnSpan: (span, request) => {
          const id = (request as { id?: unknown }).id;
          if (typeof id === 'string') span.setAttribute(REQUEST_ID_ATTRIBUTE, id);
        },
      }),
      new ExpressInstrumentation(),
      // One span per query; the statement text is recorded, its parameters (tenant data) are not.
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
    ],
    // Traces only: metrics stay on /metrics (Prometheus), logs on stdout.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
}

/** Flushes the spans not yet exported and stops the SDK (process shutdown). */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = null;
  api = null;
  if (running) await running.shutdown();
}

/** The current span's ids (the request's server span inside a request), or null when tracing is off. */
export function activeTraceIds(): TraceIds | null {
  if (!api) return null;
  const span = api.trace.getActiveSpan();
  if (!span) return null;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return traceFlags & api.TraceFlags.SAMPLED ? { traceId, spanId } : null;
}
