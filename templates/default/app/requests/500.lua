-- The app's 500 page. Not reached by URL: lusty.error.status publishes
-- request:500 when a handler raised an error or set a 5xx status.
context.response.status = 500

-- The details go to the server console, not to the client: error messages
-- and stack traces can reveal more than a visitor should see.
for _, err in ipairs(context.error or {}) do
  context.log(tostring(err.message) .. '\n' .. tostring(err.trace), 'error')
end

context.output = {
  error = {
    status = 500,
    message = 'Internal Server Error',
  },
}

require('helpers.page')(context, 'pages/500')
