-- lusty.html (contract section 8; docs/builtins.md), on `output`: sends
-- context.output when it is a string (typically the page lusty.mustache
-- rendered), with content-type text/html unless a handler set one.
-- Sending ends the publish, so an output module after it (say
-- lusty.json.output) does not send the body again. When output is not a
-- string the module is skipped and the publish goes on.
local negotiate = require 'lusty.negotiate'

local type = type

return {
  handler = function(context)
    local response = context.response
    negotiate.setDefault(response, 'content-type', 'text/html; charset=utf-8')
    response.send(context.output)
  end,
  options = {
    predicate = function(context)
      return type(context.output) == 'string'
    end,
  },
}
