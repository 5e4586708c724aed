-- Shared by the builtins_*_spec.lua files (loaded with dofile): fake
-- request contexts, fresh apps and temporary folders.
local cjson = require 'cjson'

local H = {}

-- This folder (with a trailing /).
H.dir = debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') or './'

-- A request context as the HTTP glue builds it (contract section 4), with
-- `sent` (the bodies passed to response.send) as the second result.
--   H.context{ method = 'GET', uri = '/users/1', accept = 'text/html', headers = {...}, body = '...' }
function H.context(opts)
  opts = opts or {}
  local sent = {}
  local uri = opts.uri or '/'
  local suffix = {}
  for part in uri:gmatch('[^/]+') do suffix[#suffix + 1] = part end
  local headers = opts.headers or {}
  if opts.accept then headers.accept = opts.accept end
  if opts.contentType then headers['content-type'] = opts.contentType end
  local context = {
    request = { method = opts.method or 'GET', uri = uri, headers = headers, body = opts.body },
    response = {
      status = 200,
      headers = {},
      send = function(body) sent[#sent + 1] = body end,
    },
    input = {},
    output = opts.output == nil and {} or opts.output,
    suffix = suffix,
  }
  return context, sent
end

-- A fresh app object with `config` applied (contract section 3).
function H.app(config)
  local app = require 'lusty'()
  require 'lusty-config'(app, config or {})
  return app
end

-- A built-in handler module loaded as a subscriber would be: { handler, options }.
function H.module(name, config, channel)
  return require('lusty.util').inline(name, { channel = channel or {}, config = config or {} })
end

-- Runs a module's predicate (true when it has none) and, when it passes,
-- its handler; returns whether it ran and what the handler returned.
function H.run(module, context)
  local predicate = module.options and module.options.predicate
  if predicate and not predicate(context) then return false end
  return true, module.handler(context)
end

-- A new empty temporary folder.
function H.tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(os.execute("mkdir -p '" .. path .. "'") == 0 or true)
  return path
end

function H.write(path, text)
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end

function H.read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local text = f:read('*a')
  f:close()
  return text
end

-- The path of the running lusty binary (the parent of the shell io.popen
-- starts is this process).
function H.lusty()
  local p = io.popen('readlink /proc/$PPID/exe')
  local path = p:read('*l')
  p:close()
  return path
end

H.json = cjson

return H
