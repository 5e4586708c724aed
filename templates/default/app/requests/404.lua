-- The app's 404 page. Not reached by URL: lusty.error.status publishes
-- request:404 when a request ends with status 404 (no route matched, or a
-- route such as users/show found nothing).
context.response.status = 404

context.output = {
  error = {
    status = 404,
    message = 'Not Found',
    path = context.request.uri,
  },
}

require('helpers.page')(context, 'pages/404')
