-- lusty.json.input (contract section 8; docs/builtins.md), on `input`:
-- decodes a JSON request body into context.input.
--
-- It decodes when the request has a non-empty body and its content type is
-- JSON (application/json, or any application/*+json) or absent. The result
-- may be any JSON value. A body that does not decode leaves context.input
-- as it was (the empty table of the pipeline) and the request goes on.
-- Returns (nil, true), so other input modules still run.
local cjson = require 'cjson'
local negotiate = require 'lusty.negotiate'

local type, pcall, find = type, pcall, string.find
local decode, contentType = cjson.decode, negotiate.contentType

local function isJson(mediaType)
  return mediaType == nil or mediaType == 'application/json'
    or (find(mediaType, '^application/[^/]*%+json$') ~= nil)
end

local function handler(context)
  local request = context.request
  local body = type(request) == 'table' and request.body
  if type(body) == 'string' and body ~= '' and isJson(contentType(request)) then
    local ok, value = pcall(decode, body)
    if ok then context.input = value end
  end
  return nil, true
end

return { handler = handler }
