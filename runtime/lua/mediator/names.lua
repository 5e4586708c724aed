-- Channel names (internal to the `mediator` module and the app object).
--
-- A channel is nil (the root), a string whose names are separated by ':'
-- ("data:user", empty names skipped) or an array of names (strings, or
-- numbers taken as their string form). Strings are split once and kept in
-- a bounded cache: a publisher's channel is published on at every request,
-- and gmatch stops LuaJIT's compiler.
local M = {}

local type, tostring, error = type, tostring, error

-- Bounded, in case channels are made up per call (say, with an id in them).
local MAXSPLIT = 1024
local split, nsplit = {}, 0

-- The names of string `channel` as an array. Shared: do not modify it.
function M.split(channel)
  local t = split[channel]
  if t == nil then
    t = {}
    local n = 0
    for name in channel:gmatch('[^:]+') do
      n = n + 1
      t[n] = name
    end
    if nsplit >= MAXSPLIT then split, nsplit = {}, 0 end
    split[channel] = t
    nsplit = nsplit + 1
  end
  return t
end

-- The names of `channel` (nil, a string or an array) as an array, checked.
function M.of(channel)
  local kind = type(channel)
  if kind == 'string' then return M.split(channel) end
  if kind == 'nil' then return {} end
  if kind ~= 'table' then
    error(('bad channel: expected a string or an array of names, got %s'):format(kind), 0)
  end
  return channel
end

-- Part `i` of an array channel as a string name; raises for other types.
function M.part(p, i)
  if type(p) == 'number' then return tostring(p) end
  if type(p) ~= 'string' then
    error(('bad channel: part %d is a %s, not a string'):format(i, type(p)), 0)
  end
  return p
end

return M
