-- lusty.html (contract section 8; docs/builtins.md), on `output`: sends
-- context.output when it is a string (typically the page lusty.mustache
-- rendered), with content-type text/html unless a handler set one.
-- Sending ends the publish, so an output module after it (say
-- lusty.json.output) does not send the body again. When output is not a
-- string, or a handler already sent a body (response.sent), the module is
-- skipped and the publish goes on.
local negotiate = require 'lusty.negotiate'

local type, next, rawget, tonumber = type, next, rawget, tonumber

-- Whether an output module should answer at all: not once a handler sent a
-- body (response.sent), and not for a status without a body of its own (a
-- 3xx redirect, 204, 304) while output is nil or still an empty table.
-- Shared with lusty.json.output.
local function answers(context)
  local output = context.output
  if output == nil then return false end
  local response = context.response
  if type(response) ~= 'table' then return true end
  if rawget(response, 'sent') then return false end
  local status = tonumber(response.status) or 200
  local bodiless = status == 204 or status == 304 or (status >= 300 and status < 400)
  if bodiless and type(output) == 'table' and next(output) == nil then return false end
  return true
end

return {
  handler = function(context)
    local response = context.response
    negotiate.setDefault(response, 'content-type', 'text/html; charset=utf-8')
    response.send(context.output)
  end,
  options = {
    predicate = function(context)
      return type(context.output) == 'string' and answers(context)
    end,
  },
  answers = answers,
}
