-- lusty.mustache (contract section 8; docs/builtins.md), on `render`:
-- renders context.template with context.output as data.
--
--   ['render'] = { ['lusty.mustache'] = { base = 'app/views/' } }
--
--   context.template = {
--     type = 'mustache',
--     name = 'layout',                                  -- app/views/layout.mustache
--     partials = { content = 'pages/index', head = 'partials/head' },
--   }
--
-- It runs when context.template is such a table and the client accepts
-- HTML: Accept lists text/html, text/* or */* (not with q=0), or there is no
-- Accept header. It renders `<base>/<name>.mustache` with our renderer and
-- the Lua data of context.output; `{{> content}}` uses the file the
-- partials table names for `content` (relative to base too), and a partial
-- the table does not name is looked for as `<base>/<partial>.mustache`
-- (nothing when there is no such file, with a warning on stderr once per
-- template file and app load). It sets content-type: text/html
-- unless a handler set one, replaces context.output with the HTML and ends
-- the publish. `base` (default 'app/views') is relative to the project root
-- unless absolute.
--
-- Compiled templates are cached per file and compiled again when the file
-- changes (its size, modification time or inode; checked with stat at each
-- render), so edited views show without a restart. A template that does not
-- compile or render raises "file:line:col: message".
local native = require 'lusty.native'
local negotiate = require 'lusty.negotiate'

local type, pairs, sub = type, pairs, string.sub
local render = native.render
local accepts, HTML = negotiate.accepts, negotiate.HTML

local function resolve(path)
  local root = native.root()
  if sub(path, 1, 1) == '/' then return path end
  if root == nil or root == '' then return path == '' and '.' or path end
  if path == '' then return root end
  return root .. '/' .. path
end

local base = config.base
if base == nil then base = 'app/views' end
local dir = resolve(tostring(base)):gsub('(.)/+$', '%1')

-- The file of a template name.
local function file(name)
  name = tostring(name)
  if sub(name, -9) ~= '.mustache' then name = name .. '.mustache' end
  if sub(name, 1, 1) == '/' then return name end
  return dir .. '/' .. name
end

-- Partials a template uses that have no file render as nothing, as the
-- Mustache spec wants; that hides a typo, so each template file is read
-- once per app load (a reload starts again) and such partials are named on
-- stderr. Keyed by the template's file.
local checked = {}

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

local function checkPartials(path, files)
  if checked[path] then return end
  checked[path] = true
  local f = io.open(path, 'rb')
  if not f then return end
  local text = f:read('*a') or ''
  f:close()
  for name in text:gmatch('{{>%s*([^}%s]+)%s*}}') do
    if not (files and files[name]) and not checked[path .. '\0' .. name] then
      checked[path .. '\0' .. name] = true
      local want = file(name)
      if not exists(want) then
        io.stderr:write(("lusty.mustache: warning: partial '%s' of %s has no file (%s)"
          .. " and renders as nothing\n"):format(name, path, want))
      end
    end
  end
end

local function handler(context)
  local template = context.template
  local files
  local partials = template.partials
  if type(partials) == 'table' then
    files = {}
    for name, partial in pairs(partials) do files[name] = file(partial) end
  end
  local data = context.output
  if data == nil then data = {} end
  local main = file(template.name)
  checkPartials(main, files)
  if files then
    for _, path in pairs(files) do checkPartials(path, files) end
  end
  local html = render(main, files, data, dir)
  local response = context.response
  if type(response) == 'table' then
    negotiate.setDefault(response, 'content-type', 'text/html; charset=utf-8')
  end
  context.output = html
end

return {
  handler = handler,
  options = {
    predicate = function(context)
      local template = context.template
      return type(template) == 'table' and template.type == 'mustache' and template.name ~= nil
        and accepts(context.request, HTML) ~= false
    end,
  },
  file = file,
}
