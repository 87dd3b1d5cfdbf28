/**
 * The CLI's first import: when `engram serve` or `engram worker` runs with
 * OTEL_EXPORTER_OTLP_ENDPOINT set, tracing starts here, before http, express and pg are loaded
 * (ADR 0505). Other commands and an unset endpoint load nothing.
 */
import { loadTracingConfig } from '@engram/config';
import { startTracing } from '@engram/telemetry';

const SERVICE_BY_COMMAND: Record<string, string> = { serve: 'engram', worker: 'engram-worker' };

const service = SERVICE_BY_COMMAND[process.argv[2] ?? ''];
const tracing = service ? loadTracingConfig(process.env) : null;
if (service && tracing) startTracing(tracing, service);
