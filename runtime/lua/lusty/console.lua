-- The Lua side of `lusty console` (cli/cmd_console.c reads the lines):
-- compiling a chunk, telling an incomplete one from a wrong one, running it
-- in the app's environment and printing what it returns.
--
--   require('lusty.console').eval(chunk, final) --> 0 ran, 1 failed, 2 incomplete
--
-- (`final`: the input ended, so an unfinished chunk is an error.)
--
-- A chunk is tried first as an expression (`return <chunk>`), then as
-- statements; a syntax error at '<eof>' means the chunk goes on, so the
-- reader asks for another line. Chunks run with the app's globals and
-- these at hand: `lusty` (the app), `context` (its global context),
-- `event` (its bus), `request(method, target, opts)` (lusty.mock_request)
-- and `show(value, depth)`. Assignments to globals outlive the chunk.
local type, pairs, next, ipairs, tostring, select, sort, concat, rep, format =
  type, pairs, next, ipairs, tostring, select, table.sort, table.concat, string.rep, string.format
local write = io.write

local M = { depth = 3, items = 50 }

local function isIdentifier(k)
  return type(k) == 'string' and k:match('^[%a_][%w_]*$') ~= nil
end

local function scalar(v)
  if type(v) == 'string' then return format('%q', v):gsub('\\\n', '\\n') end
  return tostring(v)
end

-- Keys in a stable order: numbers first, then strings, then the rest.
local function keyOrder(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == 'number' then return true end
    if tb == 'number' then return false end
    return ta < tb
  end
  if ta == 'number' or ta == 'string' then return a < b end
  return tostring(a) < tostring(b)
end

-- `v` as text: tables as Lua constructors, indented, `depth` levels deep
-- at most, M.items entries per table, cycles shown as <cycle>.
local function dump(v, depth, indent, seen, out)
  if type(v) ~= 'table' then
    out[#out + 1] = scalar(v)
    return
  end
  if seen[v] then
    out[#out + 1] = '<cycle>'
    return
  end
  if next(v) == nil then
    out[#out + 1] = '{}'
    return
  end
  if depth <= 0 then
    out[#out + 1] = '{...}'
    return
  end
  seen[v] = true
  local keys, n = {}, #v
  for k in pairs(v) do
    if not (type(k) == 'number' and k >= 1 and k <= n and k % 1 == 0) then keys[#keys + 1] = k end
  end
  sort(keys, keyOrder)
  local pad = rep('  ', indent + 1)
  out[#out + 1] = '{\n'
  local shown = 0
  local function entry(k, value, positional)
    shown = shown + 1
    if shown > M.items then return false end
    out[#out + 1] = pad
    if not positional then
      out[#out + 1] = isIdentifier(k) and k or '[' .. scalar(k) .. ']'
      out[#out + 1] = ' = '
    end
    dump(value, depth - 1, indent + 1, seen, out)
    out[#out + 1] = ',\n'
    return true
  end
  local total = n + #keys
  for i = 1, n do
    if not entry(i, v[i], true) then break end
  end
  for _, k in ipairs(keys) do
    if shown >= M.items then break end
    entry(k, v[k], false)
  end
  if total > M.items then
    out[#out + 1] = pad .. format('-- %d more\n', total - M.items)
  end
  out[#out + 1] = rep('  ', indent) .. '}'
  seen[v] = nil
end

function M.show(v, depth)
  local out = {}
  dump(v, depth or M.depth, 0, {}, out)
  return concat(out)
end

-- The environment chunks run in: the globals, and the names of the header.
local env
local function environment()
  if env then return env end
  local app = rawget(_G, 'lusty')
  local at = {
    context = type(app) == 'table' and app.context or nil,
    event = type(app) == 'table' and app.event or nil,
    request = function(method, target, opts)
      return require('lusty.mock_request')(rawget(_G, 'lusty'), method, target, opts)
    end,
    show = function(v, depth) write(M.show(v, depth), '\n') end,
  }
  env = setmetatable({}, {
    __index = function(_, k)
      local v = rawget(_G, k)
      if v == nil then v = at[k] end
      return v
    end,
    __newindex = _G,
  })
  return env
end

-- Whether a syntax error means the chunk is not finished yet.
local function incomplete(err)
  return type(err) == 'string' and err:find("'<eof>'$") ~= nil
end

local function report(err)
  io.stderr:write(tostring(err), '\n')
  io.stderr:flush()
end

local function pack(...) return select('#', ...), { ... } end

-- The error and its traceback down to the chunk (not the console's frames).
local function traceback(e)
  local text = debug.traceback(tostring(e), 2)
  local cut = text:find("\n%s*%[C%]: in function 'xpcall'")
  return cut and text:sub(1, cut - 1) or text
end

function M.eval(chunk, final)
  -- select() keeps every value and makes the call in the chunk no tail
  -- call, so that an error keeps its line; the newline ends a comment.
  local fn = loadstring('return select(1, ' .. chunk .. '\n)', '=console')
  if not fn then
    local err
    fn, err = loadstring(chunk, '=console')
    if not fn then
      if incomplete(err) and not final then return 2 end
      report(err)
      return 1
    end
  end
  setfenv(fn, environment())
  local n, results = pack(xpcall(fn, traceback))
  if not results[1] then
    report(results[2])
    return 1
  end
  local parts = {}
  for i = 2, n do parts[#parts + 1] = M.show(results[i]) end
  if #parts > 0 then write(concat(parts, '\t'), '\n') end
  io.stdout:flush()
  return 0
end

return M
