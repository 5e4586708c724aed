-- Helpers shared by the built-in handler modules (docs/builtins.md):
-- request headers, content types and the Accept header.
--
--   local negotiate = require 'lusty.negotiate'
--   negotiate.header(context.request, 'accept')          --> string or nil
--   negotiate.accepts(context.request, negotiate.JSON)   --> true, false or nil (no Accept)
--   negotiate.contentType(context.request)               --> 'application/json' or nil
--   negotiate.setDefault(context.response, 'content-type', 'text/html')
local type, pairs, tostring, tonumber, concat = type, pairs, tostring, tonumber, table.concat
local lower, gmatch, match = string.lower, string.gmatch, string.match

local M = {}

-- Media types that stand for "JSON" and "HTML" in Accept.
M.JSON = { ['application/json'] = true, ['*/*'] = true }
M.HTML = { ['text/html'] = true, ['text/*'] = true, ['*/*'] = true }

-- A header value as one string: a list of values (a repeated header) is
-- joined with ", ". Names are lower case in the contract; a table with other
-- spellings is searched too.
function M.header(request, name)
  local headers = type(request) == 'table' and request.headers
  if type(headers) ~= 'table' then return nil end
  local value = headers[name]
  if value == nil then
    for key, v in pairs(headers) do
      if type(key) == 'string' and lower(key) == name then
        value = v
        break
      end
    end
  end
  if type(value) == 'table' then return concat(value, ', ') end
  if value ~= nil then return tostring(value) end
  return nil
end

-- The media type of a header value, lower case, without parameters.
function M.mediaType(value)
  if value == nil then return nil end
  local t = match(value, '^%s*([^;%s]+)')
  return t and lower(t)
end

-- The request's content type (media type only), or nil.
function M.contentType(request)
  return M.mediaType(M.header(request, 'content-type'))
end

-- The media types an Accept value lists with a q value other than 0, lower
-- case, in order; false when the value is blank. Parsed once per distinct
-- value (a server sees few), so each request does table lookups only.
local parsed, nparsed = {}, 0
local function acceptable(accept)
  local list = parsed[accept]
  if list ~= nil then return list end
  if not match(accept, '%S') then
    list = false
  else
    list = {}
    for item in gmatch(accept, '[^,]+') do
      local t = match(item, '^%s*([^;%s]+)')
      if t then
        local q = match(item, ';%s*[qQ]%s*=%s*([%d.]+)')
        if not q or tonumber(q) ~= 0 then list[#list + 1] = lower(t) end
      end
    end
  end
  if nparsed >= 128 then parsed, nparsed = {}, 0 end
  parsed[accept] = list
  nparsed = nparsed + 1
  return list
end

-- Whether the Accept header lists one of the media types in the set
-- `types` (with a q value other than 0). Returns nil when there is no
-- Accept header (or it is empty), so callers pick their own default.
function M.accepts(request, types)
  local accept = M.header(request, 'accept')
  if accept == nil then return nil end
  local list = acceptable(accept)
  if not list then return nil end
  for i = 1, #list do
    if types[list[i]] then return true end
  end
  return false
end

-- Sets response header `name` (lower case) to `value` unless the response
-- already has it, under any spelling.
function M.setDefault(response, name, value)
  local headers = response.headers
  if headers == nil then
    headers = {}
    response.headers = headers
  end
  if headers[name] ~= nil then return end
  for key in pairs(headers) do
    if type(key) == 'string' and lower(key) == name then return end
  end
  headers[name] = value
end

return M
