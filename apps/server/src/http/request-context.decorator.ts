import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { AuthContext, RequestContext } from '@engram/core';
import type { Request } from 'express';

export type EngramRequest = Omit<Request, 'id'> & {
  id?: string;
  /** The OpenTelemetry trace this request belongs to (only when tracing is on). */
  traceId?: string;
  auth?: AuthContext;
};

const PUBLIC_ROUTE = 'engram:public';

/** Marks a route that needs no credentials (health, metrics, docs). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
export const PUBLIC_ROUTE_KEY = PUBLIC_ROUTE;

/** The authenticated caller and request id, for the service call. */
export const Ctx = createParamDecorator((_data: unknown, context: ExecutionContext): RequestContext => {
  const request = context.switchToHttp().getRequest<EngramRequest>();
  if (!request.auth) throw new Error('Ctx() used on a route without authentication');
  return { auth: request.auth, requestId: request.id ?? null };
});
