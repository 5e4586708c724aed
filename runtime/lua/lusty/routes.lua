-- The routes of an app in match order, for `lusty routes` (docs/builtins.md):
-- every lusty.router subscribed on the bus, depth first as `lusty channels`
-- walks it, and each router's patterns in the order it tries them.
--
--   require 'lusty.routes'.list(lusty) -->
--     { { channel = 'request', path = '/users/{id}', pattern = 'GET users/{id}',
--         methods = { 'GET' }, module = 'requests.users.show',
--         file = 'app/requests/users/show.lua', error = false,
--         shadowedBy = nil }, … }
--
-- A route is shadowed when an earlier route of the same router takes every
-- path and method it would: it never runs. Found for literal patterns
-- (segment by segment, `{name}` taking any segment) and, with lua_patterns,
-- for identical patterns only.
local type, pairs, ipairs, tostring, sort, concat =
  type, pairs, ipairs, tostring, table.sort, table.concat

local M = {}

-- The methods of a route as a sorted list without the HEAD that GET
-- brings, or nil for any method.
local function methodList(set)
  if not set then return nil end
  local list = {}
  for m in pairs(set) do
    if not (m == 'HEAD' and set.GET) then list[#list + 1] = m end
  end
  sort(list)
  return list
end

-- Whether method set `a` (nil: any) holds every method of `b`.
local function covers(a, b)
  if a == nil then return true end
  if b == nil then return false end
  for m in pairs(b) do
    if not a[m] then return false end
  end
  return true
end

-- The segments of a literal pattern, each {name} written as {}.
local function segments(pattern)
  local s = pattern:gsub('^/', ''):gsub('/$', ''):gsub('{[%a_][%w_]*}', '{}')
  local out = {}
  for seg in (s .. '/'):gmatch('([^/]*)/') do out[#out + 1] = seg end
  if s == '' then out = {} end
  return out
end

-- Whether every path literal pattern `b` matches, `a` matches too.
local function takes(a, b)
  local sa, sb = segments(a), segments(b)
  if #sa ~= #sb then return false end
  for i = 1, #sa do
    if sa[i] ~= '{}' and sa[i] ~= sb[i] then return false end
  end
  return true
end

-- The routers on the bus, depth first, with their channels.
local function routers(channel, path, out)
  local list = type(channel.callbacks) == 'table' and channel.callbacks or {}
  for _, sub in ipairs(list) do
    if sub.module == 'lusty.router' and type(sub.routes) == 'table' then
      out[#out + 1] = { channel = path, routes = sub.routes }
    end
  end
  local children, keys = channel.channels, {}
  if type(children) ~= 'table' then return out end
  for name in pairs(children) do keys[#keys + 1] = tostring(name) end
  sort(keys)
  for _, name in ipairs(keys) do
    routers(children[name], path == '' and name or path .. ':' .. name, out)
  end
  return out
end

-- The URL prefix of a router on `channel`: the names past the publisher it
-- sits under (a router on request:api serves /api/...).
local function urlPrefix(app, channel)
  local names = {}
  for name in channel:gmatch('[^:]+') do names[#names + 1] = name end
  local best = 1
  for _, p in ipairs(type(app.publishers) == 'table' and app.publishers or {}) do
    local pub = type(p) == 'table' and concat(p, ':') or tostring(p)
    if channel == pub or channel:sub(1, #pub + 1) == pub .. ':' then
      local n = select(2, pub:gsub('[^:]+', ''))
      if n > best then best = n end
    end
  end
  local rest = {}
  for i = best + 1, #names do rest[#rest + 1] = names[i] end
  return '/' .. concat(rest, '/')
end

-- The file of module `name`, relative to `root` when under it.
local function fileOf(name, root)
  local path = package.searchpath and package.searchpath(name, package.path)
  if not path then return nil end
  if root and root ~= '' then
    local prefix = root:gsub('/$', '') .. '/'
    if path:sub(1, #prefix) == prefix then path = path:sub(#prefix + 1) end
  end
  return (path:gsub('^%./', ''))
end

function M.list(app, root)
  local out = {}
  if type(app) ~= 'table' or type(app.event) ~= 'table' then return out end
  for _, router in ipairs(routers(app.event.channel or {}, '', {})) do
    local prefix = urlPrefix(app, router.channel)
    local first = #out + 1
    for i, r in ipairs(router.routes) do
      local pattern = r.pattern:gsub('^/', '')
      local path = prefix == '/' and '/' .. pattern or (pattern == '' and prefix or prefix .. '/' .. pattern)
      local route = {
        channel = router.channel, path = path, pattern = r.written or r.pattern,
        methods = methodList(r.methods), module = r.module, file = fileOf(r.module, root),
        error = r.errorOnly == true, index = #out + 1,
      }
      for k = 1, i - 1 do
        local e = router.routes[k]
        local same = e.errorOnly == r.errorOnly
          and (e.lua == r.lua or (e.literal and r.literal and takes(e.pattern, r.pattern)))
        if same and covers(e.methods, r.methods) then
          route.shadowedBy = first + k - 1
          break
        end
      end
      out[#out + 1] = route
    end
  end
  return out
end

-- The text `lusty routes` prints: a table of method, path and file, and
-- for each shadowed route a warning on stderr.
function M.print(list, write, warn)
  local rows, widths = {}, { 6, 4 }
  for i, r in ipairs(list) do
    local method = r.error and '(error)' or (r.methods and concat(r.methods, ',') or '*')
    rows[i] = { method, r.path, (r.file or r.module) .. (r.shadowedBy
      and ('  (never matches: shadowed by #%d)'):format(r.shadowedBy) or '') }
    if #method > widths[1] then widths[1] = #method end
    if #r.path > widths[2] then widths[2] = #r.path end
  end
  local fmt = '%-3s %-' .. widths[1] .. 's  %-' .. widths[2] .. 's  %s\n'
  write(fmt:format('#', 'METHOD', 'PATH', 'FILE'))
  for i, row in ipairs(rows) do write(fmt:format(i, row[1], row[2], row[3])) end
  for _, r in ipairs(list) do
    if r.shadowedBy then
      local by = list[r.shadowedBy]
      warn(("route #%d '%s' (%s) never matches: route #%d '%s' comes first and takes"
        .. ' all it would\n'):format(r.index, r.pattern, r.channel, by.index, by.pattern))
    end
  end
end

-- `lusty routes [--json]`, run by cli/cmd_routes.c inside the app's host.
function M.main(app, root, json)
  local list = M.list(app, root)
  if json then
    local cjson = require 'cjson'
    for _, r in ipairs(list) do
      r.methods = r.methods or cjson.null
      r.file = r.file or cjson.null
      r.shadowedBy = r.shadowedBy or cjson.null
    end
    io.write(#list == 0 and '[]' or cjson.encode(list), '\n')
  elseif #list == 0 then
    io.write('no routes: the app has no lusty.router\n')
  else
    M.print(list, function(s) io.write(s) end,
      function(s) io.stderr:write('lusty: warning: ', s) end)
  end
  return 0
end

return M
