-- lusty.log.console (contract section 8; docs/builtins.md), on `log`:
-- prints each log event to the server's console (stderr) as
--
--   2024-05-01 12:34:56.789 INFO    message
--
-- with the level coloured when stderr is a terminal and NO_COLOR is not
-- set (config `color = true/false` forces it). Returns (event, true) so
-- that other log subscribers still run.
local native = require 'lusty.native'

local type, tostring, floor, date, format = type, tostring, math.floor, os.date, string.format

local color = config.color
if color == nil then
  local noColor = os.getenv('NO_COLOR')
  color = native.isatty(2) and (noColor == nil or noColor == '')
end

local LABELS = { debug = 'DEBUG  ', info = 'INFO   ', warning = 'WARNING', error = 'ERROR  ' }
local COLORS = { debug = '\27[2m', info = '\27[32m', warning = '\27[33m', error = '\27[1;31m' }

local function handler(event)
  local level, message = 'info', event
  if type(event) == 'table' then
    level, message = event.level or 'info', event.message
  end
  level = tostring(level)
  local label = LABELS[level] or format('%-7s', level:upper())
  if color then label = (COLORS[level] or '') .. label .. '\27[0m' end
  local now = native.now()
  local secs = floor(now)
  local line = format('%s.%03d %s %s\n', date('%Y-%m-%d %H:%M:%S', secs),
    floor((now - secs) * 1000), label, tostring(message))
  io.stderr:write(line)
  return event, true
end

return { handler = handler }
