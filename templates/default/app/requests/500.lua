-- The app's 500 page. Not reached by URL: lusty.error.status publishes
-- request:500 when a handler raised an error or set a 5xx status. An error
-- that carries its own status keeps it: the store raises 503 while its
-- database cannot be reached or is locked.
local status = tonumber(context.response.status) or 500
if status < 500 or status > 599 then status = 500 end
context.response.status = status

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
  -- The server says once that the store is down, not once per request.
  local outage = type(err.error) == 'table' and err.error.status == 503
  if not outage then
    context.log(('%s %s: %s\n%s'):format(request.method, request.uri, relative(err.message),
      relative(err.trace)), 'error')
  end
end

context.output = {
  error = {
    status = status,
    message = status == 503 and 'Service Unavailable' or 'Internal Server Error',
  },
}

require('helpers.page')(context, 'pages/500')
