import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticationService, EngramError, QuotaService } from '@engram/core';
import { EngramRequest, PUBLIC_ROUTE_KEY } from './request-context.decorator';

/** Resolves `Authorization: Bearer <token>` on every route not marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authentication: AuthenticationService,
    private readonly quotas: QuotaService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE_KEY, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<EngramRequest>();
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw EngramError.unauthenticated('send Authorization: Bearer <API key or admin token>');
    const auth = await this.authentication.authenticate(match[1]);
    if (!auth) throw EngramError.unauthenticated('the API key or admin token is invalid, revoked or expired');
    request.auth = auth;
    if (auth.kind === 'key') await this.quotas.admitRequest(auth, auth.rateLimitPerMinute ?? null);
    return true;
  }
}
