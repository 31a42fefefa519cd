/**
 * The one error type of the Go-module mechanics library. `message` is a short
 * sentence fit to show a go command user after "server response:"; `code`
 * lets callers choose a status without parsing text.
 */
export type GoModErrorCode =
  | 'invalid-path'
  | 'invalid-version'
  | 'invalid-escape'
  | 'invalid-gomod'
  | 'invalid-zip'
  | 'too-large';

export class GoModError extends Error {
  constructor(
    readonly code: GoModErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GoModError';
  }
}
