import { AuthContext } from '../auth/auth-context';

/** What every service call needs to know about its caller. */
export interface RequestContext {
  auth: AuthContext;
  requestId: string | null;
}
