-- The app's 500 page. Not reached by URL: lusty.error.status publishes
-- request:500 when a handler raised an error or set a 5xx status.
context.response.status = 500

-- The details go to the server console, not to the client: error messages
-- and stack traces can reveal more than a visitor should see.
-- As the server prints errors nobody answered: method, target, and paths
-- relative to the project (this file is <project>/app/requests/500.lua).
local root = debug.getinfo(1, 'S').source:match('^@(.*/)app/requests/[^/]*$')
local function relative(text)
  text = tostring(text)
  if not root then return text end
  local out, from = {}, 1
  while true do
    local s, e = text:find(root, from, true)
    if not s then break end
    out[#out + 1] = text:sub(from, s - 1)
    from = e + 1
  end
  out[#out + 1] = text:sub(from)
  return table.concat(out)
end
local request = context.request
for _, err in ipairs(context.error or {}) do
  context.log(('%s %s: %s\n%s'):format(request.method, request.uri, relative(err.message),
    relative(err.trace)), 'error')
end

context.output = {
  error = {
    status = 500,
    message = 'Internal Server Error',
  },
}

require('helpers.page')(context, 'pages/500')
