-- ngx.shared (docs/ngx.md): the dictionaries lusty.json declares,
--
--   "shared_dict": { "cache": "10m", "counters": 65536 }
--
-- (sizes in bytes, or with k, m or g), each one store per server process
-- that every worker thread sees (runtime/src/lua/lua_shdict.c). The
-- declarations are read on the first use of ngx.shared in a host.
local shdict = require 'lusty.ngx.shdict'

local type, tostring, tonumber, error, setmetatable, rawset, pairs =
  type, tostring, tonumber, error, setmetatable, rawset, pairs

local UNITS = { [''] = 1, k = 1024, m = 1024 * 1024, g = 1024 * 1024 * 1024 }

-- "10m" -> 10485760; nil for anything else.
local function bytes(v)
  if type(v) == 'number' then return v >= 1 and v or nil end
  if type(v) ~= 'string' then return nil end
  local n, unit = v:lower():match('^%s*(%d+)%s*([kmg]?)b?%s*$')
  return n and tonumber(n) * UNITS[unit] or nil
end

local function declared()
  local dicts = require('lusty.manifest').shared_dict
  return type(dicts) == 'table' and dicts or {}
end

local decl

return setmetatable({}, {
  __index = function(t, name)
    decl = decl or declared()
    local size = decl[name]
    if size == nil then
      error(('ngx.shared.%s is not declared: add "shared_dict": { "%s": "1m" } to lusty.json')
        :format(tostring(name), tostring(name)), 2)
    end
    local n = bytes(size)
    if not n then
      error(('ngx.shared.%s: the size in lusty.json must be a number of bytes or a text such as '
        .. '"10m" (got %s)'):format(tostring(name), tostring(size)), 2)
    end
    local dict = shdict.open(name, n)
    rawset(t, name, dict)
    return dict
  end,
})
