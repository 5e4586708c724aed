-- lusty.json.output (contract section 8; docs/builtins.md), on `output`:
-- sends context.output encoded as JSON.
--
--   ['output'] = { ['lusty.json.output'] = { default = true, empty_as_array = true } }
--
-- It answers when context.output is not nil and the client accepts JSON:
-- the Accept header lists application/json or */* (not with q=0), or there
-- is no Accept header and the request's content type is JSON. Config
-- `default = true` makes it answer whatever the Accept header says.
-- `empty_as_array = true` encodes every empty table as [] instead of {}
-- (the data itself is not changed). It sets content-type: application/json
-- unless a handler set a content type, sends the JSON and ends the publish.
-- When it does not answer, the publish goes on. It never answers once a
-- body was sent (response.sent), nor for a redirect or 204/304 whose output
-- is still the empty table the pipeline starts with (see answers()).
local cjson = require 'cjson'
local negotiate = require 'lusty.negotiate'

local type, pairs, next = type, pairs, next
local encode, emptyArray = cjson.encode, cjson.empty_array
local accepts, contentType, JSON = negotiate.accepts, negotiate.contentType, negotiate.JSON

local always = config.default == true
local emptyAsArray = config.empty_as_array == true

-- `v` with every empty table replaced by cjson.empty_array; tables that
-- change are copied, the others are shared.
local function arrays(v, depth)
  if type(v) ~= 'table' then return v end
  if next(v) == nil then return emptyArray end
  if depth > 64 then return v end
  local copy
  for k, x in pairs(v) do
    if type(x) == 'table' then
      local y = arrays(x, depth + 1)
      if y ~= x then
        if not copy then
          copy = {}
          for k2, x2 in pairs(v) do copy[k2] = x2 end
        end
        copy[k] = y
      end
    end
  end
  return copy or v
end

-- Whether the client accepts JSON (see the top of the file).
local function acceptsJson(request)
  local ok = accepts(request, JSON)
  if ok == nil then
    local t = contentType(request)
    return t == 'application/json' or (t ~= nil and t:find('^application/[^/]*%+json$') ~= nil)
  end
  return ok
end

local answers = require('lusty.html').answers

local function handler(context)
  local output = context.output
  if emptyAsArray then output = arrays(output, 1) end
  local response = context.response
  negotiate.setDefault(response, 'content-type', 'application/json')
  response.send(encode(output))
end

return {
  handler = handler,
  options = {
    predicate = function(context)
      if not answers(context) then return false end
      return always or acceptsJson(context.request)
    end,
  },
}
