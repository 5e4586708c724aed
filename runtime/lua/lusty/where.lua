-- "app/users.lua:3" for the code `level` levels above the caller (as
-- debug.getinfo counts from the caller), the file relative to the project
-- root; nil when unknown (a tail call, C). Used for log lines and for
-- who asked for a module.
local native = require 'lusty.native'
local getinfo, sub = debug.getinfo, string.sub

return function(level)
  local info = getinfo(level + 1, 'Sl')
  if not info or (info.currentline or 0) <= 0 then return nil end
  local file = info.source
  if sub(file, 1, 1) ~= '@' then return info.short_src .. ':' .. info.currentline end
  file = sub(file, 2)
  local root = native.root()
  if root and sub(file, 1, #root + 1) == root .. '/' then file = sub(file, #root + 2) end
  return file .. ':' .. info.currentline
end
