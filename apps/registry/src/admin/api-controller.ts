import { applyDecorators, Controller } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiForbiddenResponse, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ApiErrorDto } from './dto/page.dto';

export const API_PREFIX = 'api/v1';

/**
 * Every admin controller: under /api/v1 (where the auth guard denies by
 * default and errors are JSON), one OpenAPI tag, and the error answers every
 * route shares documented once.
 */
export function ApiController(tag: string): ClassDecorator {
  return applyDecorators(
    Controller(API_PREFIX),
    ApiTags(tag),
    ApiBearerAuth('bearer'),
    ApiBadRequestResponse({ type: ApiErrorDto, description: 'Invalid input; the message names the field' }),
    ApiUnauthorizedResponse({ type: ApiErrorDto, description: 'No, unknown, revoked or expired credentials, or a disabled account' }),
    ApiForbiddenResponse({ type: ApiErrorDto, description: 'The role or the scope of the credential does not allow it' }),
    ApiTooManyRequestsResponse({ type: ApiErrorDto, description: 'Too many failed authentications from this address or login' }),
  );
}
