// Where the sign-in controllers import @Public() from; the decorators live together in auth.decorators.ts.
export { Public, RequireRole, RequireScope, CurrentPrincipal } from './auth.decorators';
