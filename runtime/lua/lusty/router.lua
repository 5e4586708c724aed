-- lusty.router (contract section 8; docs/builtins.md): runs the route file
-- of the first pattern that matches the request path.
--
--   ['request'] = {
--     ['lusty.router'] = {
--       patterns = {
--         { [''] = 'requests.index' },                -- only /
--         { ['users/{userId}'] = 'requests.users.show' },
--         { ['users'] = 'requests.users.index' },     -- literal text
--         { ['GET users/{userId}/posts'] = 'requests.posts.index' }, -- GET (and HEAD) only
--         { 'POST', 'PUT', ['posts'] = 'requests.posts.write' },      -- a list of methods
--         { ['404'] = 'requests.404' },               -- reached by error routing
--       },
--       -- lua_patterns = true,  -- opt in: patterns use Lua syntax (users[/]?)
--     },
--   },
--
-- The path is the one of the channel being published, relative to the
-- channel the router sits on. A request to /users/1 publishes on
-- request:users:1, so a router on `request` sees `users/1`. Each pattern must
-- match the whole path (anchored at both ends, a trailing `/` allowed);
-- `{name}` matches one segment and becomes a local of the route file. The
-- rest of a pattern is literal text unless the config has lua_patterns =
-- true; patterns that cannot match what they seem to are warned about at load.
--
-- Methods: a pattern may start with methods in capitals and a space (`GET
-- users`, `GET,POST users`), or its entry may list them first ({ 'GET',
-- 'POST', [pattern] = module }). Such a route runs only for those methods,
-- HEAD following GET; one without methods runs for any method, as before.
-- A path that some route matches but none for the request's method gets
-- 405 with an `Allow` header listing the methods of those routes, and the
-- publish goes on (as with 404, the error routing answers it).
--
-- Which channel is being published: `context.channel` (an array) when the
-- publisher sets it, as lusty.error.status does when it publishes
-- request:404; otherwise the publisher channel of the app (lusty.publishers)
-- that the router sits under, extended by `context.suffix` (what
-- lusty:request publishes). A request's own path sets response.status = 404
-- before matching; a channel named by context.channel (error routing) keeps
-- the status it has, so a 500 stays a 500. A pattern that is a status code
-- (`404`, `500`) names an error route: only error routing reaches it, a
-- request for /500 does not.
--
-- The route file runs as through lusty.util.inline (compiled once, cached) with
-- `context`, `config` (this router's config) and one local per `{name}`;
-- what it returns is what the router returns (so by default the publish
-- ends there). When no pattern matches, the router returns (nil, true) and
-- the publish goes on.
local util = require 'lusty.util'

local type, pairs, next, error, tostring, tonumber, select, rawget =
  type, pairs, next, error, tostring, tonumber, select, rawget
local find, sub, concat = string.find, string.sub, table.concat
local inline, compileChunk, holder = util.inline, util.compile, util.cache
local unpack = unpack

local SEGMENT = '([^/]+)'
-- Routes with at most this many captures take the fast path of run().
local MAXFAST = 4

local function bad(pattern, why)
  error(("lusty.router: bad pattern '%s': %s"):format(pattern, why), 0)
end

-- Lua pattern syntax is an opt-in: `lua_patterns = true` in the router's
-- config. Otherwise every character but a {name} stands for itself, so
-- `blog-posts` matches /blog-posts and `feed.xml` does not match /feedXxml.
local luaPatterns = type(config) == 'table' and config.lua_patterns == true

-- Says at load time that a pattern will not match what it seems to. On
-- stderr, as the console log does: the app's log module is not set up yet.
local function warn(pattern, why)
  io.stderr:write(("lusty.router: warning: pattern '%s' %s\n"):format(pattern, why))
end

local MAGIC = '[%^%$%(%)%%%.%[%]%*%+%-%?]'

-- A literal pattern: {name} parameters, every other character as itself.
local function compileLiteral(pattern, src)
  if find(src, '[%[%]%%%(%)%^%$]') or find(src, '[%?%*%+]$') then
    warn(pattern, 'is matched as literal text, but looks like a Lua pattern;'
      .. ' set lua_patterns = true in the router\'s config to use Lua pattern syntax')
  end
  local out, captures = {}, {}
  local i, len = 1, #src
  while i <= len do
    local s, e, name = find(src, '^{([%a_][%w_]*)}', i)
    if s then
      out[#out + 1] = SEGMENT
      captures[#captures + 1] = name
      i = e + 1
    else
      local c = sub(src, i, i)
      out[#out + 1] = find(c, MAGIC) and '%' .. c or c
      i = i + 1
    end
  end
  return '^' .. concat(out) .. '/?$', captures
end

-- Turns a route pattern into an anchored Lua pattern and the list of its
-- captures in order: a name for each {name}, false for the pattern's own
-- Lua captures (whose text is not injected).
local function compile(pattern)
  if type(pattern) ~= 'string' then
    error(('lusty.router: a pattern must be a string, got %s'):format(type(pattern)), 0)
  end
  local src = pattern
  if not luaPatterns then
    if sub(src, 1, 1) == '/' then src = sub(src, 2) end
    if #src > 0 and sub(src, #src) == '/' then src = sub(src, 1, #src - 1) end
    return compileLiteral(pattern, src)
  end
  if sub(src, 1, 1) == '^' then src = sub(src, 2) end
  if sub(src, 1, 1) == '/' then src = sub(src, 2) end
  local n = #src
  if n > 0 and sub(src, n) == '$' and sub(src, n - 1, n - 1) ~= '%' then
    src = sub(src, 1, n - 1)
    n = n - 1
  end
  if n > 0 and sub(src, n) == '/' and sub(src, n - 1, n - 1) ~= '%' then
    src = sub(src, 1, n - 1)
  end

  local out, captures, open = {}, {}, 0
  local i, len = 1, #src
  while i <= len do
    local c = sub(src, i, i)
    if c == '%' then
      if i == len then bad(pattern, "ends with '%'") end
      out[#out + 1] = sub(src, i, i + 1)
      i = i + 2
    elseif c == '[' then
      -- A set: copied as is up to its closing bracket (a ']' right after
      -- '[' or '[^' belongs to the set).
      local j = i + 1
      if sub(src, j, j) == '^' then j = j + 1 end
      if sub(src, j, j) == ']' then j = j + 1 end
      while j <= len and sub(src, j, j) ~= ']' do
        if sub(src, j, j) == '%' then j = j + 1 end
        j = j + 1
      end
      if j > len then bad(pattern, "missing ']'") end
      out[#out + 1] = sub(src, i, j)
      i = j + 1
    elseif c == '{' then
      local s, e, name = find(src, '^{([%a_][%w_]*)}', i)
      if s then
        out[#out + 1] = SEGMENT
        captures[#captures + 1] = name
        i = e + 1
      else
        out[#out + 1] = c
        i = i + 1
      end
    else
      if c == '(' then
        captures[#captures + 1] = false
        open = open + 1
      elseif c == ')' then
        open = open - 1
        if open < 0 then bad(pattern, "unmatched ')'") end
      elseif c == '-' and i > 1 and find(sub(src, i + 1, i + 1), '^[%w_]') then
        -- "blog-posts": the '-' makes the 'g' optional and never matches '-'.
        warn(pattern, "uses '-' as a Lua quantifier (the character before it, repeated"
          .. " lazily); write %- for a literal '-'")
      elseif c == '.' then
        warn(pattern, "uses '.' as a Lua pattern (any character); write %. for a literal '.'")
      end
      out[#out + 1] = c
      i = i + 1
    end
  end
  if open > 0 then bad(pattern, "missing ')'") end
  local lua = '^' .. concat(out) .. '/?$'
  -- Fail at load time, not on the first request, on a malformed pattern
  -- (Lua only reports some of them when matching gets there).
  local ok, err = pcall(find, '', lua)
  if not ok then bad(pattern, tostring(err)) end
  return lua, captures
end

-- Whether a pattern names an error route: a status code, 100 to 599 (`404`,
-- `/500`). lusty.error.status reaches those by publishing request:<code>;
-- a request for the URL /500 must not get the 500 page with status 500.
local function isErrorRoute(pattern)
  local code = tonumber(pattern:match('^/?(%d%d%d)/?$'))
  return code ~= nil and code >= 100 and code <= 599
end

-- The methods of an entry: the strings of its array part and a prefix of
-- its pattern ("GET users/{id}", "GET,POST users"). Returns the pattern
-- without the prefix and a set of methods (nil: any method), where GET
-- brings HEAD with it, as a HEAD request is a GET without the body.
local function methodsOf(i, entry, pattern)
  local set, list = nil, {}
  for k = 1, #entry do list[#list + 1] = entry[k] end
  local prefix, rest = pattern:match('^([%u,|]+)%s+(.*)$')
  if prefix then
    pattern = rest
    for m in prefix:gmatch('[^,|]+') do list[#list + 1] = m end
  end
  for k = 1, #list do
    local m = list[k]
    if type(m) ~= 'string' or not m:match('^%u+$') then
      error(('lusty.router: config.patterns[%d]: a method must be a name in capitals such as'
        .. " 'GET', got %s"):format(i, tostring(m)), 0)
    end
    set = set or {}
    set[m] = true
  end
  if set and set.GET then set.HEAD = true end
  return pattern, set
end

-- The one pattern of an entry (its only string key) and its module.
local function entryOf(i, entry)
  local pattern, module
  if type(entry) == 'table' then
    for k, v in pairs(entry) do
      if type(k) == 'string' then
        if pattern ~= nil then pattern = false break end
        pattern, module = k, v
      elseif type(k) ~= 'number' or k < 1 or k > #entry or k % 1 ~= 0 then
        pattern = false
        break
      end
    end
  end
  if not pattern or type(module) ~= 'string' then
    error(('lusty.router: config.patterns[%d] must be a table { [pattern] = "module.name" }'
      .. " with, optionally, its methods first: { 'GET', 'POST', [pattern] = ... }"):format(i), 0)
  end
  return pattern, module
end

-- The routes of config.patterns, in order.
local function load(patterns)
  local routes = {}
  if patterns == nil then return routes end
  if type(patterns) ~= 'table' then
    error('lusty.router: config.patterns must be an array of { [pattern] = module } tables', 0)
  end
  for i = 1, #patterns do
    local entry = patterns[i]
    local written, module = entryOf(i, entry)
    local pattern, methods = methodsOf(i, entry, written)
    local lua, captures = compile(pattern)
    routes[i] = {
      pattern = pattern, written = written, methods = methods, lua = lua,
      captures = captures, module = module, literal = not luaPatterns,
      fast = #captures <= MAXFAST, errorOnly = isErrorRoute(pattern),
    }
  end
  return routes
end

local routes = load(config.patterns)
local nroutes = #routes
local here = channel or {}
local depth = #here

-- Whether array `a` starts with the `n` names of `prefix`.
local function startsWith(a, prefix, n)
  if #a < n then return false end
  for i = 1, n do
    if tostring(a[i]) ~= tostring(prefix[i]) then return false end
  end
  return true
end

-- The path of `parts` below the router's channel: parts[depth+1..] joined.
local function below(parts, from)
  local n = #parts
  if from > n then return '' end
  if from == n then return tostring(parts[n]) end
  local t = {}
  for i = from, n do t[#t + 1] = tostring(parts[i]) end
  return concat(t, '/')
end

-- The names of a publisher given as a string ("a:b" -> { "a", "b" }),
-- split once: this runs on every request and gmatch stops LuaJIT's
-- compiler. The arrays are private (only read here). Bounded.
local split, nsplit = {}, 0
local function names(p)
  local t = split[p]
  if t == nil then
    t = {}
    for name in p:gmatch('[^:]+') do t[#t + 1] = name end
    if nsplit >= 64 then split, nsplit = {}, 0 end
    split[p] = t
    nsplit = nsplit + 1
  end
  return t
end

-- The request path relative to the router, or nil when the router does not
-- sit under any publisher the request's path extends.
local function requestPath(context)
  local suffix = context.suffix
  if type(suffix) ~= 'table' then
    -- No suffix: the request path itself (as the runtime would split it).
    local request = context.request
    local uri = type(request) == 'table' and request.uri
    suffix = {}
    if type(uri) == 'string' then
      for part in uri:gmatch('[^/?]+') do suffix[#suffix + 1] = part end
    end
  end
  local lusty = context.lusty
  local publishers = type(lusty) == 'table' and lusty.publishers
  if type(publishers) == 'table' then
    for i = 1, #publishers do
      local p = publishers[i]
      if type(p) == 'string' then p = names(p) end
      local np = #p
      -- The router must sit on this publisher or below it, inside the path.
      if np <= depth and startsWith(here, p, np) then
        local ok = true
        for k = np + 1, depth do
          if tostring(suffix[k - np]) ~= tostring(here[k]) then
            ok = false
            break
          end
        end
        if ok then return below(suffix, depth - np + 1) end
      end
    end
  end
  -- Not under a known publisher: assume a one-name publisher.
  return below(suffix, depth)
end

-- Runs route `r` with the text of its captures, through util.inline (routes
-- with more than MAXFAST captures).
local function runSlow(r, context, ...)
  local env = { context = context, config = config }
  local names = r.captures
  for k = 1, #names do
    local name = names[k]
    if name then env[name] = (select(k, ...)) end
  end
  return inline(r.module, env)
end

-- The fast path runs the same compiled chunk as util.inline would, looked up
-- in Lua: util.compile gives the chunk, its key in util.cache[1] (the cache
-- util.inline fills; clearCache replaces it, and a reload makes a fresh Lua
-- state) and the order in which the chunk takes its values. LuaJIT cannot
-- compile through util.inline (a C function); this way the request's trace
-- goes on into the route file. The chunk still runs afresh per request.
-- Compiles route `r`'s chunk (or takes it from the cache) and records where
-- each of its values comes from: 0 context, -1 config, k the k-th capture.
local function prepare(r)
  local from = { context = 0, config = -1 }
  local names = r.captures
  for k = 1, #names do
    local name = names[k]
    if name then from[name] = k end
  end
  local fn, key, order = compileChunk(r.module, from)
  local src = {}
  for i = 1, #order do src[i] = from[order[i]] end
  r.src, r.nargs, r.key = src, #order, key
  return fn
end

local function value(s, context, c1, c2, c3, c4)
  if s == 0 then return context
  elseif s == -1 then return config
  elseif s == 1 then return c1
  elseif s == 2 then return c2
  elseif s == 3 then return c3
  else return c4 end
end

local function run(r, context, c1, c2, c3, c4)
  local key = r.key
  local fn = key and holder[1][key]
  if fn == nil then fn = prepare(r) end
  local src, n = r.src, r.nargs
  if n == 2 then
    return fn(value(src[1], context, c1, c2, c3, c4), value(src[2], context, c1, c2, c3, c4))
  end
  local args = {}
  for i = 1, n do args[i] = value(src[i], context, c1, c2, c3, c4) end
  return fn(unpack(args, 1, n))
end

-- The Allow header of a path that matched only with other methods: the
-- union of their methods, sorted.
local function allowOf(allowed)
  local list = {}
  for m in pairs(allowed) do list[#list + 1] = m end
  table.sort(list)
  return concat(list, ', ')
end

local function handler(context)
  local path
  local published = rawget(context, 'channel')
  local fromRequest = true
  if type(published) == 'table' and startsWith(published, here, depth) then
    path = below(published, depth + 1)
    fromRequest = false
  else
    path = requestPath(context)
    local response = context.response
    if type(response) == 'table' then response.status = 404 end
  end
  local method, allowed
  for i = 1, nroutes do
    local r = routes[i]
    local lua = r.lua
    local s, _, c1, c2, c3, c4 = find(path, lua)
    if s and not (fromRequest and r.errorOnly) then
      local methods = r.methods
      -- Methods apply to a request's own path; error routing (404, 500)
      -- reaches its route whatever the request's method.
      if methods and fromRequest then
        if method == nil then
          local request = context.request
          method = type(request) == 'table' and request.method or ''
        end
        if not methods[method] then
          allowed = allowed or {}
          for m in pairs(methods) do allowed[m] = true end
          s = nil
        end
      end
      if s then
        if r.fast then return run(r, context, c1, c2, c3, c4) end
        return runSlow(r, context, select(3, find(path, lua)))
      end
    end
  end
  if allowed then
    local response = context.response
    if type(response) == 'table' then
      response.status = 405
      if type(response.headers) == 'table' then response.headers['allow'] = allowOf(allowed) end
    end
  end
  return nil, true
end

return {
  handler = handler,
  -- For tests and `lusty channels`: the compiled routes.
  routes = routes,
}
