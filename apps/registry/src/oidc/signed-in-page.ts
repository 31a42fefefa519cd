/**
 * The page the browser lands on after signing in. It names the user and says
 * what to do next; it never holds a token (the session is in an HttpOnly
 * cookie, and the go command gets its token through `modgate login`).
 */
export function signedInPage(login: string, registryUrl: string): string {
  const l = escapeHtml(login);
  const url = escapeHtml(registryUrl);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Signed in to ModGate</title></head>
<body>
<h1>Signed in as ${l}</h1>
<p>You can close this page.</p>
<p>For the go command, run <code>modgate login --registry ${url}</code>: it stores a token for ${l} in ~/.netrc.</p>
</body>
</html>
`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
