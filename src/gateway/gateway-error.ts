// The one error a gateway use case or route throws on purpose: an HTTP status, a stable code
// clients branch on, and a detail for people. The API answers it as `{error: code, detail}`;
// anything else thrown is an internal error (500, logged, detail withheld).
export class GatewayError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 503,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}
