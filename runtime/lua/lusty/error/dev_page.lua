-- The development error page (docs/dev-loop.md): what a developer needs to
-- see when a handler raised, whatever the app's templates look like: each
-- error's message, its file and line, the source lines around that line,
-- the traceback, and the request.
--
--   local html = require('lusty.error.dev_page').render(context.error, context.request, root)
--
-- `root` is the project folder the file names are relative to (nil: the
-- current folder). Nothing here runs in production: the caller decides.
local type, tostring, tonumber, pairs, ipairs, sort, concat, format =
  type, tostring, tonumber, pairs, ipairs, table.sort, table.concat, string.format

local M = { context = 5 }

local ESC = { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;', ["'"] = '&#39;' }
local function esc(s) return (tostring(s):gsub('[&<>"\']', ESC)) end

-- The app file and line an error comes from: the first `file.lua:N:` of
-- its message, then of its traceback, that is not the runtime's own code.
function M.location(message, trace)
  for _, text in ipairs({ message or '', trace or '' }) do
    for file, line in tostring(text):gmatch('([^%s:]+%.lua):(%d+):') do
      if not file:find('^[<%[]') and not file:find('^/usr/') then return file, tonumber(line) end
    end
  end
  return nil
end

-- The lines around `line` of `file`: { { number, text, isTheLine } ... }.
function M.excerpt(file, line, root)
  local path = file
  if root and root ~= '' and file:sub(1, 1) ~= '/' then path = root .. '/' .. file end
  local f = io.open(path, 'rb')
  if not f then return nil end
  local out, n = {}, 0
  for text in f:lines() do
    n = n + 1
    if n > line + M.context then break end
    if n >= line - M.context then out[#out + 1] = { n, text, n == line } end
  end
  f:close()
  return #out > 0 and out or nil
end

local function section(out, title)
  out[#out + 1] = '<h2>' .. esc(title) .. '</h2>'
end

local function requestTable(out, request)
  if type(request) ~= 'table' then return end
  section(out, 'Request')
  out[#out + 1] = '<table>'
  out[#out + 1] = format('<tr><th>%s</th><td>%s</td></tr>', 'method', esc(request.method or ''))
  out[#out + 1] = format('<tr><th>%s</th><td>%s</td></tr>', 'uri', esc(request.uri or ''))
  if request.queryString and request.queryString ~= '' then
    out[#out + 1] = format('<tr><th>query</th><td>%s</td></tr>', esc(request.queryString))
  end
  local names = {}
  for k in pairs(type(request.headers) == 'table' and request.headers or {}) do
    names[#names + 1] = tostring(k)
  end
  sort(names)
  for _, k in ipairs(names) do
    out[#out + 1] = format('<tr><th>%s</th><td>%s</td></tr>', esc(k), esc(request.headers[k]))
  end
  out[#out + 1] = '</table>'
end

local STYLE = 'body{font:15px/1.4 system-ui,sans-serif;margin:2em;color:#222}'
  .. 'h1{color:#b00020;font-size:1.3em}pre,table{font:13px/1.4 ui-monospace,monospace}'
  .. 'pre{background:#f6f6f6;padding:.8em;overflow:auto}.src span{display:block}'
  .. '.src .here{background:#ffd7d7}th{text-align:left;padding-right:1em;vertical-align:top}'

function M.render(errors, request, root)
  local out = { '<!DOCTYPE html><html><head><meta charset="utf-8">',
    '<title>Error: ' .. esc(request and request.uri or '') .. '</title>',
    '<style>' .. STYLE .. '</style></head><body>' }
  for _, e in ipairs(type(errors) == 'table' and errors or {}) do
    local message = type(e) == 'table' and tostring(e.message) or tostring(e)
    local trace = type(e) == 'table' and e.trace or nil
    out[#out + 1] = '<h1>' .. esc(message) .. '</h1>'
    local file, line = M.location(message, trace)
    if file then
      out[#out + 1] = format('<p class="where">%s, line %d</p>', esc(file), line)
      local lines = M.excerpt(file, line, root)
      if lines then
        local width = #tostring(lines[#lines][1])
        out[#out + 1] = '<pre class="src">'
        for _, l in ipairs(lines) do
          out[#out + 1] = format('<span%s>%' .. width .. 'd  %s</span>',
            l[3] and ' class="here"' or '', l[1], esc(l[2]))
        end
        out[#out + 1] = '</pre>'
      end
    end
    if trace then
      section(out, 'Traceback')
      out[#out + 1] = '<pre class="trace">' .. esc(trace) .. '</pre>'
    end
  end
  requestTable(out, request)
  out[#out + 1] = '</body></html>\n'
  return concat(out, '\n')
end

-- For the runtime (app_response.c), in development only: the page for a
-- request whose error the app answered itself, and the response table's
-- content type made HTML (whatever case the app wrote the header in).
function M.respond(context, response)
  local headers = type(response) == 'table' and response.headers
  if type(headers) == 'table' then
    for name in pairs(headers) do
      if type(name) == 'string' and name:lower() == 'content-type' then headers[name] = nil end
    end
    headers['content-type'] = 'text/html; charset=utf-8'
  end
  -- File names as the console shows them: from the project root.
  local ok, native = pcall(require, 'lusty.native')
  local root = ok and type(native) == 'table' and native.root and native.root() or nil
  local errors = context.error
  if root and type(errors) == 'table' then
    local prefix, shown = root:gsub('/$', '') .. '/', {}
    local function strip(text)
      if type(text) ~= 'string' then return text end
      local out, at = {}, 1
      while true do
        local i, j = text:find(prefix, at, true)
        if not i then break end
        out[#out + 1] = text:sub(at, i - 1)
        at = j + 1
      end
      out[#out + 1] = text:sub(at)
      return table.concat(out)
    end
    for i, e in ipairs(errors) do
      shown[i] = type(e) == 'table' and { message = strip(tostring(e.message)), trace = strip(e.trace) }
        or strip(tostring(e))
    end
    errors = shown
  end
  return M.render(errors, context.request, root)
end

return M
