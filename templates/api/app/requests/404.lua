-- The app's 404 answer. Not reached by URL: lusty.error.status publishes
-- request:404 when a request ends with status 404 (no route matched, or
-- users/show found no such user).
context.response.status = 404
context.output = {
  error = 'not found',
  path = context.request.uri,
}
