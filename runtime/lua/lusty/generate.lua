-- `lusty generate` (docs/dev-loop.md): the files a generator writes and the
-- edit of the app's config, as a plan that cli/cmd_generate.c carries out
-- (or prints, with --dry-run). Nothing here writes to disk.
--
--   require('lusty.generate').plan(root, appConfig, force, kind, ...) -->
--     { files = { { path = 'app/requests/x.lua', content = '...',
--                   action = 'create' | 'overwrite' | 'edit' }, ... },
--       refused = nil | { message = '...', lines = '...' } }
--   or nil, exitStatus, message, hint when the arguments are wrong or a
--   file is in the way.
--
-- The config is edited as text, line by line, so that the user's comments
-- and layout stay as they are: lines are only inserted (or, for a one-line
-- list, one item added before its closing brace). When the config is not
-- shaped as this code can edit safely, the plan says so in `refused` with
-- the lines to add by hand.
local concat, format = table.concat, string.format

local M = {}

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in local
  nil not or repeat return then true until while context config]]):gmatch('%S+') do
  KEYWORDS[word] = true
end

local METHODS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true,
  HEAD = true, OPTIONS = true }

local function usage(message, hint) error({ status = 2, message = message, hint = hint }, 0) end
local function failure(message, hint) error({ status = 1, message = message, hint = hint }, 0) end
local function refuse(why) error({ refused = why }, 0) end

local function readFile(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local text = f:read('*a')
  f:close()
  return text
end

local function quote(s) return "'" .. s:gsub('\\', '\\\\'):gsub("'", "\\'") .. "'" end

local function isIdentifier(name)
  return name:match('^[%a_][%w_]*$') ~= nil and not KEYWORDS[name]
end

-- A dotted module name ('reports.daily') made of Lua identifiers.
local function checkModuleName(what, name)
  for part in (name .. '.'):gmatch('([^.]*)%.') do
    if not isIdentifier(part) then
      usage(format("invalid %s name '%s': use Lua identifiers joined by dots", what, name),
        "for example 'audit' or 'reports.daily'")
    end
  end
end

-- 'GET,POST users/{id}' -> { methods = { 'GET', 'POST' } or nil,
-- segments = { { literal = 'users' }, { param = 'id' } }, path = 'users/{id}' }.
local function parseRoute(text)
  local methodText, rest = text:match('^([A-Z][A-Z,]*)%s+(.*)$')
  local route = { text = text }
  if methodText then
    route.methods = {}
    for m in methodText:gmatch('[^,]+') do
      if not METHODS[m] then
        usage(format("invalid route '%s': unknown method '%s'", text, m),
          'methods are GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS')
      end
      route.methods[#route.methods + 1] = m
    end
  else
    rest = text
  end
  local path = rest:gsub('^/+', ''):gsub('/+$', '')
  route.path, route.segments = path, {}
  local seen = {}
  if path ~= '' then
    for segment in (path .. '/'):gmatch('([^/]*)/') do
      local param = segment:match('^{(.*)}$')
      if param then
        if not isIdentifier(param) or seen[param] then
          usage(format("invalid route '%s': '{%s}' must be a Lua name, not a keyword, "
            .. "'context' or 'config', used once", text, param))
        end
        seen[param] = true
        route.segments[#route.segments + 1] = { param = param }
      elseif segment:match('^[%w_][%w_.~-]*$') then
        route.segments[#route.segments + 1] = { literal = segment }
      else
        usage(format("invalid route '%s': segment '%s' is neither a name nor a {param}",
          text, segment), "a pattern looks like 'users/{id}' or 'GET users/{id}'")
      end
    end
  end
  if path:match('^%d%d%d$') then
    usage(format("invalid route '%s': a status code pattern is an error route", text),
      'error routes are reached through lusty.error.status, not by URL')
  end
  route.pattern = (methodText and methodText .. ' ' or '') .. path
  return route
end

-- The route module a pattern gets, following the default template:
-- 'users' -> requests.users.index, 'users/{id}' -> requests.users.show,
-- 'POST users' -> requests.users.create.
local ACTIONS = { POST = 'create', PUT = 'update', PATCH = 'update', DELETE = 'delete' }
local function routeModule(route)
  local parts = { 'requests' }
  for _, s in ipairs(route.segments) do
    if s.literal then parts[#parts + 1] = (s.literal:gsub('[^%w_]', '_')) end
  end
  local last = route.segments[#route.segments]
  local action = route.methods and ACTIONS[route.methods[1]]
  if not action then action = last and last.param and 'show' or 'index' end
  parts[#parts + 1] = action
  return concat(parts, '.')
end

-- -------------------------------------------------------------------------
-- Reading the config's shape.

-- Splits text into lines; `depth[i]` is the brace depth at the start of
-- line i, `code[i]` the line without its comment (strings kept), and
-- `plain[i]` false when the line starts inside a long string or comment
-- (such a line is never edited or parsed).
local function scan(text)
  local lines = {}
  for line in (text:sub(-1) == '\n' and text or text .. '\n'):gmatch('([^\n]*)\n') do
    lines[#lines + 1] = line
  end
  local depth, code, plain = {}, {}, {}
  local d, long = 0, nil -- long: the closing bracket of an open long string/comment
  for i, line in ipairs(lines) do
    depth[i], plain[i] = d, long == nil
    local out, pos = {}, 1
    while pos <= #line do
      if long then
        local s, e = line:find(long, pos, true)
        if not s then pos = #line + 1 else pos, long = e + 1, nil end
      else
        local c = line:sub(pos, pos)
        if c == '-' and line:sub(pos + 1, pos + 1) == '-' then
          local eq = line:match('^%[(=*)%[', pos + 2)
          if eq then
            long = ']' .. eq .. ']'
            pos = pos + 4 + #eq
          else
            pos = #line + 1
          end
        elseif c == '[' and line:match('^%[=*%[', pos) then
          local eq = line:match('^%[(=*)%[', pos)
          long = ']' .. eq .. ']'
          out[#out + 1] = line:sub(pos, pos + 1 + #eq)
          pos = pos + 2 + #eq
        elseif c == '"' or c == "'" then
          local j = pos + 1
          while j <= #line and line:sub(j, j) ~= c do
            j = j + (line:sub(j, j) == '\\' and 2 or 1)
          end
          out[#out + 1] = line:sub(pos, j)
          pos = j + 1
        else
          if c == '{' then d = d + 1 elseif c == '}' then d = d - 1 end
          out[#out + 1] = c
          pos = pos + 1
        end
      end
    end
    code[i] = concat(out):gsub('%s+$', '')
  end
  return { lines = lines, depth = depth, code = code, plain = plain,
    trailingNewline = text:sub(-1) == '\n', endDepth = d }
end

-- The line that closes the table opened at the end of line i.
local function closingLine(cfg, i)
  local inner = cfg.depth[i] + 1
  for j = i + 1, #cfg.lines do
    local after = cfg.depth[j + 1] or cfg.endDepth
    if after < inner then
      if not cfg.plain[j] or not cfg.code[j]:match('^%s*}[%s,;]*$') then
        refuse(format('line %d closes a table but is not just a closing brace', j))
      end
      return j
    end
  end
  refuse(format('the table opened on line %d is not closed', i))
end

-- Lines (plain, at depth `depth`) whose code matches `pattern`.
local function find(cfg, pattern, depth, from, to)
  local found = {}
  for i = from or 1, to or #cfg.lines do
    if cfg.plain[i] and (depth == nil or cfg.depth[i] == depth)
        and cfg.code[i]:match(pattern) then
      found[#found + 1] = i
    end
  end
  return found
end

local function indentOf(line) return line:match('^(%s*)') end

-- The last code line before line j after line i, or nil when only blank
-- and comment lines are between them.
local function lastCodeLine(cfg, i, j)
  for k = j - 1, i + 1, -1 do
    if cfg.code[k]:match('%S') then return k end
  end
  return nil
end

-- Checks that new lines inserted before line j (in the table opened on line
-- i) follow a finished entry.
local function checkComma(cfg, i, j)
  local k = lastCodeLine(cfg, i, j)
  if k and not cfg.code[k]:match('[,;]$') then
    refuse(format('line %d does not end with a comma', k))
  end
end

-- The edits: { before = lineIndex, lines = {...} } insertions, or
-- { replace = lineIndex, line = '...' }.
local function apply(cfg, edits)
  local out, byLine = {}, {}
  for _, e in ipairs(edits) do
    local at = e.before or e.replace
    byLine[at] = byLine[at] or {}
    table.insert(byLine[at], e)
  end
  for i, line in ipairs(cfg.lines) do
    local replaced = line
    for _, e in ipairs(byLine[i] or {}) do
      if e.before then
        for _, l in ipairs(e.lines) do out[#out + 1] = l end
      else
        replaced = e.line
      end
    end
    out[#out + 1] = replaced
  end
  return concat(out, '\n') .. (cfg.trailingNewline and '\n' or '')
end

-- The lines that open and close the file's one returned table (`return {`).
local function topTable(cfg)
  local tops = find(cfg, '^%s*return%s*{$', 0)
  if #tops ~= 1 then refuse("it does not end with one 'return {' table") end
  return tops[1], closingLine(cfg, tops[1])
end

-- Adds `item` to the list whose table opens on line i: into a one-line
-- `{ ... }` before its brace, or as a line before a multi-line table's
-- closing brace.
local function appendToList(cfg, i, item, edits)
  if cfg.code[i]:match('{$') then
    local close = closingLine(cfg, i)
    for k = i + 1, close - 1 do
      if cfg.code[k]:match('^%s*' .. item:gsub('%p', '%%%0') .. '[%s,;]*$') then return end
    end
    checkComma(cfg, i, close)
    edits[#edits + 1] = { before = close, lines = { indentOf(cfg.lines[close]) .. '  ' .. item .. ',' } }
    return
  end
  -- One line: `key = { 'a', 'b' },` plus maybe a comment.
  local line = cfg.lines[i]
  local code = cfg.code[i]
  local head, body = code:match('^(.-{)(.*)}[%s,;]*$')
  if not head or body:find('[{}]') then refuse(format('line %d is not a one-line list', i)) end
  for listed in body:gmatch("['\"]([^'\"]*)['\"]") do
    if quote(listed) == item then return end
  end
  local at = #head + #body -- the closing brace is right after this in `code` and in `line`
  local sep = body:match('%S') and (body:match('[,;]%s*$') and ' ' or ', ') or ' '
  local before = line:sub(1, at):gsub('%s*$', '')
  edits[#edits + 1] = { replace = i, line = before .. sep .. item .. ' ' .. line:sub(at + 1) }
end

-- -------------------------------------------------------------------------
-- The router's patterns.


-- An existing entry line -> { methods = set or nil, pattern = path text }.
local function parseEntry(code, i)
  local key = code:match("%[%s*'([^']*)'%s*%]%s*=") or code:match('%[%s*"([^"]*)"%s*%]%s*=')
  local whole = key
  if not key or not code:match('^%s*{.*}[%s,;]*$') then
    refuse(format('line %d of the router patterns is not a one-line { [pattern] = file } entry', i))
  end
  local methods
  local listed = code:match('^%s*{(.-)%[')
  for m in (listed or ''):gmatch("['\"]([A-Z]+)['\"]") do
    methods = methods or {}
    methods[m] = true
  end
  local prefix, path = key:match('^([A-Z][A-Z,]*)%s+(.*)$')
  if prefix then
    methods = methods or {}
    for m in prefix:gmatch('[^,]+') do methods[m] = true end
    key = path
  end
  local module = code:match("%]%s*=%s*'([^']*)'") or code:match('%]%s*=%s*"([^"]*)"')
  return { methods = methods, path = key:gsub('^/+', ''):gsub('/+$', ''), key = whole,
    module = module }
end

-- Whether an existing route would take requests meant for `route`, so the
-- new one must come before it: error routes and catch-alls (any pattern
-- beyond names and {params}) always, else when each of its segments takes
-- the new one's and the methods overlap.
local function takes(entry, route)
  if entry.path:match('^%d%d%d$') then return true end
  if entry.path:find('[^%w_.~/{}-]') then return true end
  if entry.methods and route.methods then
    local overlap = false
    for _, m in ipairs(route.methods) do
      if entry.methods[m] or (m == 'HEAD' and entry.methods.GET) then overlap = true end
    end
    if not overlap then return false end
  end
  local segments = {}
  if entry.path ~= '' then
    for s in (entry.path .. '/'):gmatch('([^/]*)/') do segments[#segments + 1] = s end
  end
  if #segments ~= #route.segments then return false end
  for k, s in ipairs(segments) do
    local new = route.segments[k]
    if not s:match('^{.*}$') and s ~= new.literal then return false end
  end
  return true
end

local function patternLine(route, module)
  return format('{ [%s] = %s },', quote(route.pattern), quote(module))
end

-- Insertions of the routes' entries into the router's patterns table.
local function routeEdits(cfg, routes, edits)
  local routers = find(cfg, "%[%s*['\"]lusty%.router['\"]%s*%]%s*=")
  if #routers ~= 1 then
    refuse(#routers == 0 and "it has no ['lusty.router'] entry"
      or format("it has %d ['lusty.router'] entries", #routers))
  end
  local r = routers[1]
  if not cfg.code[r]:match('{$') then refuse(format('line %d does not open the router config', r)) end
  local routerClose = closingLine(cfg, r)
  local opens = find(cfg, '^%s*patterns%s*=%s*{$', cfg.depth[r] + 1, r + 1, routerClose)
  if #opens ~= 1 then refuse("its router config has no 'patterns = {' line") end
  local open = opens[1]
  local close = closingLine(cfg, open)
  local entries, indent = {}, nil
  for i = open + 1, close - 1 do
    if not cfg.plain[i] then refuse(format('line %d is inside a long string or comment', i)) end
    if cfg.code[i]:match('%S') then
      if cfg.depth[i] ~= cfg.depth[open] + 1 then
        refuse(format('line %d of the router patterns is not a one-line entry', i))
      end
      local entry = parseEntry(cfg.code[i], i)
      entry.line = i
      entries[#entries + 1] = entry
      indent = indent or indentOf(cfg.lines[i])
    end
  end
  indent = indent or indentOf(cfg.lines[open]) .. '  '
  for _, route in ipairs(routes) do
    local at = close
    for _, entry in ipairs(entries) do
      -- Run again (with --force): the entry is there already.
      if entry.key == route.pattern and entry.module == route.module then
        at = nil
        break
      end
      if takes(entry, route) then
        at = entry.line
        -- Keep the comment block just above that entry with it.
        while at - 1 > open and cfg.code[at - 1] == '' and cfg.lines[at - 1]:match('^%s*%-%-') do
          at = at - 1
        end
        break
      end
    end
    if at == close then checkComma(cfg, open, close) end
    if at then
      edits[#edits + 1] = { before = at, lines = { indent .. patternLine(route, route.module) } }
    end
  end
end

-- -------------------------------------------------------------------------
-- File contents.

local function header(lines) return concat(lines, '\n') .. '\n' end

local function routeTitle(route)
  local methods = route.methods and concat(route.methods, ',') .. ' ' or ''
  return methods .. '/' .. route.path
end

-- A path to request for the route in its spec: each {param} becomes 1, 2 ...
local function examplePath(route)
  local parts, values, n = {}, {}, 0
  for _, s in ipairs(route.segments) do
    if s.param then
      n = n + 1
      parts[#parts + 1] = tostring(n)
      values[#values + 1] = { s.param, tostring(n) }
    else
      parts[#parts + 1] = s.literal
    end
  end
  return '/' .. concat(parts, '/'), values
end

local function routeFile(route, view, json)
  local out = { '-- ' .. routeTitle(route), '--',
    '-- Made by `lusty generate route`. lusty.router runs this file for each',
    '-- matching request with the locals `context` and `config`' }
  local fields = {}
  for _, s in ipairs(route.segments) do
    if s.param then fields[#fields + 1] = s.param .. ' = ' .. s.param end
  end
  if #fields > 0 then
    out[#out] = out[#out] .. ' and one local'
    out[#out + 1] = '-- per {param}, the matching path segment (a string): '
      .. concat(fields, ', '):gsub(' = [%w_]+', '') .. '.'
  else
    out[#out] = out[#out] .. '.'
  end
  out[#out + 1] = ''
  out[#out + 1] = '-- The router sets status 404 before matching; a route that answers says so.'
  out[#out + 1] = 'context.response.status = 200'
  if not json then
    -- An app that sends no JSON (the minimal template): a text answer.
    local shown = { quote(routeTitle(route)) }
    for _, s in ipairs(route.segments) do
      if s.param then shown[#shown + 1] = format("'\\n%s = ' .. %s", s.param, s.param) end
    end
    out[#out + 1] = "context.response.headers['content-type'] = 'text/plain; charset=utf-8'"
    out[#out + 1] = 'context.output = ' .. concat(shown, ' .. ')
    return header(out)
  end
  out[#out + 1] = format('context.output = { route = %s%s }', quote(routeTitle(route)),
    #fields > 0 and ', ' .. concat(fields, ', ') or '')
  if view then
    out[#out + 1] = ''
    out[#out + 1] = format('-- Browsers get app/views/%s.mustache; JSON clients get', view)
    out[#out + 1] = '-- context.output as it is.'
    out[#out + 1] = format("require('helpers.page')(context, %s)", quote(view))
  end
  return header(out)
end

local function viewFile(route, module)
  local shown = ('/' .. route.path):gsub('{([%w_]+)}', '{{%1}}')
  return header({
    format('{{! %s : data from app/%s.lua }}', routeTitle(route), (module:gsub('%.', '/'))),
    format('<h1>%s</h1>', shown),
    format('<p>Made by <code>lusty generate route</code>: edit app/views/%s.mustache.</p>',
      'pages/' .. module:gsub('^requests%.', ''):gsub('%.', '/')),
  })
end

local function routeSpec(route, html, json)
  local path, values = examplePath(route)
  local method = route.methods and route.methods[1] or 'GET'
  if not json then
    local out = {
      format('-- Specs of %s, made by `lusty generate route`: run them with `lusty test`.',
        routeTitle(route)),
      format('describe(%s, function()', quote(routeTitle(route))),
      "  it('answers with text', function()",
      format('    local res = request(%s, %s)', quote(method), quote(path)),
      '    assert.are.equal(200, res.status)',
    }
    for _, v in ipairs(values) do
      out[#out + 1] = format("    assert.matches(%s, res.body, 1, true)", quote(v[1] .. ' = ' .. v[2]))
    end
    out[#out + 1] = '  end)'
    out[#out + 1] = 'end)'
    return header(out)
  end
  local out = {
    format('-- Specs of %s, made by `lusty generate route`: run them with `lusty test`.',
      routeTitle(route)),
    format('describe(%s, function()', quote(routeTitle(route))),
    "  it('answers JSON clients with its data', function()",
    format("    local res = request(%s, %s, { headers = { accept = 'application/json' } })",
      quote(method), quote(path)),
    '    assert.are.equal(200, res.status)',
  }
  for _, v in ipairs(values) do
    out[#out + 1] = format('    assert.are.equal(%s, res.json.%s)', quote(v[2]), v[1])
  end
  out[#out + 1] = '  end)'
  if html then
    out[#out + 1] = "  it('answers browsers with HTML', function()"
    out[#out + 1] = format("    local res = request(%s, %s, { headers = { accept = 'text/html' } })",
      quote(method), quote(path))
    out[#out + 1] = '    assert.are.equal(200, res.status)'
    out[#out + 1] = "    assert.matches('text/html', res.headers['content-type'], 1, true)"
    out[#out + 1] = '  end)'
  end
  out[#out + 1] = 'end)'
  return header(out)
end

local function specName(module)
  return 'spec/' .. module:gsub('^requests%.', ''):gsub('%.', '_') .. '_spec.lua'
end

-- -------------------------------------------------------------------------
-- The generators. Each returns the files and the config edits.

local G = {}

function G.route(ctx, pattern, extra)
  if not pattern or extra then usage("'lusty generate route' takes one PATTERN") end
  local route = parseRoute(pattern)
  route.module = routeModule(route)
  local files = { { path = 'app/' .. route.module:gsub('%.', '/') .. '.lua' } }
  local view
  if ctx.html then
    view = 'pages/' .. route.module:gsub('^requests%.', ''):gsub('%.', '/')
    files[#files + 1] = { path = 'app/views/' .. view .. '.mustache',
      content = viewFile(route, route.module) }
  end
  files[1].content = routeFile(route, view, ctx.json)
  files[#files + 1] = { path = specName(route.module),
    content = routeSpec(route, ctx.html, ctx.json) }
  return files, function(cfg, edits) routeEdits(cfg, { route }, edits) end
end

function G.handler(ctx, name, channel, extra)
  if not name or not channel or extra then
    usage("'lusty generate handler' takes a NAME and a CHANNEL")
  end
  checkModuleName('handler', name)
  if not channel:match('^[%w_.-]+$') and not channel:match('^[%w_.-]+[%w_.:-]*[%w_.-]$') then
    usage(format("invalid channel '%s': names joined by ':'", channel), "for example 'request:users'")
  end
  local module = 'handlers.' .. name
  local content = header({
    format('-- Subscribed on %s in app/config.lua (made by `lusty generate handler`).', channel),
    '--',
    '-- The host gives this module the locals `channel` (the channel it is',
    '-- subscribed on, as an array) and `config` (its table from the app',
    '-- config). The handler gets what is published: for channels of the',
    '-- request pipeline, the request context. It returns (result, continue):',
    '-- a result that is not nil is added to the publish\'s results, and the',
    '-- publish goes on to the next subscriber only when `continue` is true.',
    'return {',
    '  handler = function(context)',
    '    return nil, true',
    '  end,',
    '}',
  })
  local files = { { path = 'app/' .. module:gsub('%.', '/') .. '.lua', content = content } }
  return files, function(cfg, edits)
    local top, topClose = topTable(cfg)
    local subs = find(cfg, '^%s*subscribers%s*=%s*{$', cfg.depth[top] + 1, top, topClose)
    if #subs ~= 1 then refuse("it has no 'subscribers = {' line in its returned table") end
    local close = closingLine(cfg, subs[1])
    local key = "^%s*%[%s*['\"]" .. channel:gsub('%p', '%%%0') .. "['\"]%s*%]%s*=%s*{"
    local lines = find(cfg, key, cfg.depth[subs[1]] + 1, subs[1], close)
    if #lines > 1 then refuse(format("it subscribes on '%s' more than once", channel)) end
    if #lines == 1 then
      appendToList(cfg, lines[1], quote(module), edits)
    else
      checkComma(cfg, subs[1], close)
      local indent = indentOf(cfg.lines[close]) .. '  '
      edits[#edits + 1] = { before = close, lines = {
        indent .. format('[%s] = { %s },', quote(channel), quote(module)) } }
    end
  end
end

function G.module(ctx, name, extra)
  if not name or extra then usage("'lusty generate module' takes a NAME") end
  if not isIdentifier(name) then
    usage(format("invalid module name '%s': use a Lua identifier", name), "for example 'audit'")
  end
  local channel = name .. ':ping'
  local files = {
    { path = 'app/' .. name .. '/config.lua', content = header({
      format('-- The seed-style module %s (made by `lusty generate module`), listed in', name),
      "-- `modules` in app/config.lua. Each entry of `events` subscribes the",
      "-- function after '#' of the module before it on the channel.",
      'return {',
      '  events = {',
      format("    [%s] = '%s.functions#ping',", quote(channel), name),
      '  },',
      '}',
    }) },
    { path = 'app/' .. name .. '/functions.lua', content = header({
      format('-- The functions of the module %s, named in app/%s/config.lua.', name, name),
      '-- Each is called as fn(lusty, payload, callback) and returns',
      '-- (result, continue) like any subscriber; callback(result) adds a result.',
      'local M = {}',
      '',
      format("-- Published on '%s': answers 'pong' and the payload.", channel),
      'function M.ping(lusty, payload, callback)',
      "  return { pong = true, payload = payload }",
      'end',
      '',
      'return M',
    }) },
    { path = 'spec/' .. name .. '_module_spec.lua', content = header({
      format('-- Specs of the module %s (made by `lusty generate module`): run them', name),
      '-- with `lusty test`.',
      format('describe(%s, function()', quote('module ' .. name)),
      format("  it('answers on %s', function()", channel),
      format("    local results = lusty.event:publish({ %s }, 'hello')",
        concat((function()
          local parts = {}
          for p in channel:gmatch('[^:]+') do parts[#parts + 1] = quote(p) end
          return parts
        end)(), ', ')),
      '    assert.is_true(results[1].pong)',
      "    assert.are.equal('hello', results[1].payload)",
      '  end)',
      'end)',
    }) },
  }
  return files, function(cfg, edits)
    local top, topClose = topTable(cfg)
    local lists = find(cfg, '^%s*modules%s*=%s*{', cfg.depth[top] + 1, top, topClose)
    if #lists > 1 then refuse("it has more than one 'modules =' line") end
    if #lists == 1 then
      appendToList(cfg, lists[1], quote(name), edits)
    else
      checkComma(cfg, top, topClose)
      local indent = indentOf(cfg.lines[topClose]) .. '  '
      edits[#edits + 1] = { before = topClose, lines = {
        '',
        indent .. '-- Seed-style modules: each <name>.config lists the functions it',
        indent .. '-- subscribes (`events`).',
        indent .. format('modules = { %s },', quote(name)) } }
    end
  end
end

function G.resource(ctx, name, extra)
  if not name or extra then usage("'lusty generate resource' takes a NAME") end
  if not name:match('^[%a][%w_]*$') or KEYWORDS[name] then
    usage(format("invalid resource name '%s': use a Lua identifier", name),
      "it names the store's collection and the URL, for example 'notes'")
  end
  if not ctx.json then
    failure('the app sends no JSON', "subscribe 'lusty.json.output' on 'output' in app/config.lua "
      .. "(and 'lusty.json.input' on 'input')")
  end
  if not ctx.store then
    failure('the app has no store',
      "add ['lusty.store'] = {} to `context` in app/config.lua (see docs/store.md)")
  end
  local coll = 'context.store.' .. name
  local function file(action, title, body)
    local out = { format('-- %s  (made by `lusty generate resource %s`)', title, name), '--',
      format('-- Documents of the store collection `%s` (docs/store.md), as JSON.', name) }
    for _, l in ipairs(body) do out[#out + 1] = l end
    return { path = format('app/requests/%s/%s.lua', name, action), content = header(out) }
  end
  local notFound = {
    'if not doc then',
    '  -- No output: lusty.error.status runs the app\'s 404 route.',
    '  context.response.status = 404',
    '  return',
    'end',
  }
  local badBody = {
    "if type(context.input) ~= 'table' or context.input[1] ~= nil then",
    '  context.response.status = 400',
    "  context.output = { error = { status = 400, message = 'send a JSON object' } }",
    '  return',
    'end',
    'local fields = {}',
    "for k, v in pairs(context.input) do if k ~= '_id' then fields[k] = v end end",
  }
  local function join(...)
    local out = {}
    for _, list in ipairs({ ... }) do for _, l in ipairs(list) do out[#out + 1] = l end end
    return out
  end
  local files = {
    file('index', 'GET /' .. name, {
      'local query = require \'lusty.store.query\'', '',
      'context.response.status = 200',
      format('local items = %s.get(query.sort({ _id = 1 }))', coll),
      "context.output = { items = #items > 0 and items or require('cjson').empty_array }",
    }),
    file('show', 'GET /' .. name .. '/{id}', join({
      format('local doc = %s.get({ _id = id })[1]', coll) }, notFound, {
      'context.response.status = 200',
      'context.output = { item = doc }' })),
    file('create', 'POST /' .. name, join(badBody, {
      format('local doc = %s.post(fields)', coll),
      'context.response.status = 201',
      "context.response.headers['location'] = '/" .. name .. "/' .. tostring(doc._id)",
      'context.output = { item = doc }' })),
    file('update', 'PUT,PATCH /' .. name .. '/{id}', join(badBody, {
      '-- PUT replaces the document, PATCH changes the fields sent.',
      'local doc',
      format('if #%s.get({ _id = id }) > 0 then', coll),
      "  if context.request.method == 'PUT' then",
      format('    doc = %s.put({ _id = id }, fields)', coll),
      '  else',
      format('    %s.patch({ _id = id }, fields)', coll),
      format('    doc = %s.get({ _id = id })[1]', coll),
      '  end',
      'end' }, notFound, {
      'context.response.status = 200',
      'context.output = { item = doc }' })),
    file('delete', 'DELETE /' .. name .. '/{id}', join({
      format('local doc = %s.delete({ _id = id })[1]', coll) }, notFound, {
      'context.response.status = 200',
      'context.output = { item = doc }' })),
  }
  local r = '/' .. name
  files[#files + 1] = { path = 'spec/' .. name .. '_spec.lua', content = header({
    format('-- Specs of the %s resource (made by `lusty generate resource`): run them', name),
    '-- with `lusty test`. They go through the whole pipeline and the store.',
    "local json = { headers = { accept = 'application/json' } }",
    'local function send(method, target, body)',
    "  return request(method, target, { headers = { accept = 'application/json' }, body = body })",
    'end',
    '',
    format('describe(%s, function()', quote(name)),
    "  it('creates, lists, shows, updates and deletes', function()",
    format("    local created = send('POST', '%s', { title = 'first' })", r),
    '    assert.are.equal(201, created.status)',
    '    local id = created.json.item._id',
    '    assert.is_string(id)',
    '',
    format("    local list = request('GET', '%s', json)", r),
    '    assert.are.equal(200, list.status)',
    '    local found = false',
    '    for _, item in ipairs(list.json.items) do found = found or item._id == id end',
    '    assert.is_true(found)',
    '',
    format("    local shown = request('GET', '%s/' .. id, json)", r),
    "    assert.are.equal('first', shown.json.item.title)",
    '',
    format("    local patched = send('PATCH', '%s/' .. id, { done = true })", r),
    '    assert.are.equal(200, patched.status)',
    "    assert.are.same({ _id = id, title = 'first', done = true }, patched.json.item)",
    '',
    format("    local put = send('PUT', '%s/' .. id, { title = 'second' })", r),
    "    assert.are.same({ _id = id, title = 'second' }, put.json.item)",
    '',
    format("    assert.are.equal(200, request('DELETE', '%s/' .. id, json).status)", r),
    format("    assert.are.equal(404, request('GET', '%s/' .. id, json).status)", r),
    format("    assert.are.equal(404, request('DELETE', '%s/' .. id, json).status)", r),
    '  end)',
    '',
    "  it('answers 400 to a body that is not a JSON object', function()",
    format("    assert.are.equal(400, send('POST', '%s', { 1, 2 }).status)", r),
    '  end)',
    'end)',
  }) }
  local routes = {
    { 'GET ' .. name, 'index' }, { 'POST ' .. name, 'create' },
    { 'GET ' .. name .. '/{id}', 'show' }, { 'PUT,PATCH ' .. name .. '/{id}', 'update' },
    { 'DELETE ' .. name .. '/{id}', 'delete' },
  }
  for i, spec in ipairs(routes) do
    routes[i] = parseRoute(spec[1])
    routes[i].module = format('requests.%s.%s', name, spec[2])
  end
  return files, function(cfg, edits) routeEdits(cfg, routes, edits) end
end

-- What --dry-run shows of a config edit: the lines added or changed.
local function preview(cfg, edits)
  local out = {}
  for _, e in ipairs(edits) do
    if e.before then
      out[#out + 1] = format('@@ before line %d', e.before)
      for _, l in ipairs(e.lines) do out[#out + 1] = '+' .. l end
    else
      out[#out + 1] = format('@@ line %d', e.replace)
      out[#out + 1] = '-' .. cfg.lines[e.replace]
      out[#out + 1] = '+' .. e.line
    end
  end
  return concat(out, '\n') .. '\n'
end

-- The lines to add when nothing could be located, from a blank config.
local function fallbackLines(kind, args, files)
  local router = kind == 'handler' and {} or { "    ['request'] = {",
    "      ['lusty.router'] = {", '        patterns = {', '        },', '      },', '    },' }
  local blank = { 'return {', '  subscribers = {' }
  for _, l in ipairs(router) do blank[#blank + 1] = l end
  blank[#blank + 1] = '  },'
  blank[#blank + 1] = '}'
  blank = scan(header(blank))
  local _, edit = G[kind]({ html = false, store = true, json = true }, unpack(args))
  local edits = {}
  edit(blank, edits)
  local out = {}
  for _, e in ipairs(edits) do
    for _, l in ipairs(e.lines or { e.line }) do
      if l:match('%S') then out[#out + 1] = (l:gsub('^%s+', '')) end
    end
  end
  local where = kind == 'handler' and 'in `subscribers`'
    or kind == 'module' and 'in the returned table'
    or "in the `patterns` of the ['lusty.router'] entry, before the routes that would\n  take its requests and before the error routes (404, 500)"
  return format('add %s:\n  %s', where, concat(out, '\n  '))
end

function M.plan(root, appConfig, force, kind, ...)
  local args = { ... }
  local ok, result = pcall(function()
    local gen = G[kind]
    if not gen then
      usage(format("unknown generator '%s'", tostring(kind)),
        'generators are route, handler, module and resource')
    end
    local configPath = root .. '/' .. appConfig
    local text = readFile(configPath)
    if not text then failure(format("cannot read '%s'", appConfig)) end
    local ctx = {
      html = text:find('lusty.mustache', 1, true) ~= nil
        and readFile(root .. '/app/helpers/page.lua') ~= nil,
      json = text:find('lusty.json.output', 1, true) ~= nil,
      -- The lusty.store context module (not the backend on `store`).
      store = text:find("['\"]lusty%.store['\"]") ~= nil,
    }
    local files, edit = gen(ctx, unpack(args))
    for _, f in ipairs(files) do
      if readFile(root .. '/' .. f.path) then
        if not force then
          failure(format("'%s' already exists", f.path), 'pass --force to overwrite it')
        end
        f.action = 'overwrite'
      else
        f.action = 'create'
      end
    end
    local cfg = scan(text)
    local edits = {}
    local eok, err = pcall(edit, cfg, edits)
    local plan = { files = files }
    if eok then
      if #edits > 0 then
        files[#files + 1] = { path = appConfig, content = apply(cfg, edits), action = 'edit',
          preview = preview(cfg, edits) }
      end
    elseif type(err) == 'table' and err.refused then
      plan.refused = { message = format("cannot edit '%s': %s", appConfig, err.refused),
        lines = fallbackLines(kind, args, files) }
    else
      error(err, 0)
    end
    return plan
  end)
  if ok then return result end
  if type(result) == 'table' and result.status then
    return nil, result.status, result.message, result.hint
  end
  error(result, 0)
end

return M
