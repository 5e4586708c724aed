-- lusty.form.input (contract section 8; docs/builtins.md), on `input`:
-- decodes an application/x-www-form-urlencoded request body into
-- context.input.
--
-- `a=1&b=x+y&c=%2F` gives { a = '1', b = 'x y', c = '/' }. A name given more
-- than once gets the list of its values in order; a name without `=` gets
-- true (as OpenResty's get_post_args did). The fields are added to the
-- existing context.input table. Returns (nil, true), so other input modules
-- still run.
local negotiate = require 'lusty.negotiate'

local type, tonumber, char = type, tonumber, string.char
local gsub, gmatch, find, sub = string.gsub, string.gmatch, string.find, string.sub

local function unescape(s)
  s = gsub(s, '+', ' ')
  return (gsub(s, '%%(%x%x)', function(h) return char(tonumber(h, 16)) end))
end

-- Decodes a urlencoded string into table `out` (returned): at most `max`
-- names (nil or 0: any number), pairs separated by `&` or `;` unless
-- `pairs` gives another gmatch pattern (ngx.decode_args takes only `&`).
local function decode(body, out, max, pairs)
  local n = 0
  for pair in gmatch(body, pairs or '[^&;]+') do
    if max and max > 0 and n >= max then break end
    n = n + 1
    local eq = find(pair, '=', 1, true)
    local name, value
    if eq then
      name, value = unescape(sub(pair, 1, eq - 1)), unescape(sub(pair, eq + 1))
    else
      name, value = unescape(pair), true
    end
    if name ~= '' then
      local old = out[name]
      if old == nil then
        out[name] = value
      elseif type(old) == 'table' then
        old[#old + 1] = value
      else
        out[name] = { old, value }
      end
    end
  end
  return out
end

local function handler(context)
  local request = context.request
  local body = type(request) == 'table' and request.body
  if type(body) == 'string' and body ~= ''
    and negotiate.contentType(request) == 'application/x-www-form-urlencoded' then
    local input = context.input
    if type(input) ~= 'table' then input = {} end
    context.input = decode(body, input)
  end
  return nil, true
end

return { handler = handler, decode = decode }
