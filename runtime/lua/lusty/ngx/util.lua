-- The request-independent functions of `ngx` (docs/ngx.md): escaping,
-- query strings, time, base64, digests, SQL quoting. ngx.lua copies every
-- field of this table onto ngx.
local native = require 'lusty.ngx.native'
local builtins = require 'lusty.native'
local decodeForm = require('lusty.form.input').decode

local type, tostring, tonumber, error, pairs, ipairs = type, tostring, tonumber, error, pairs, ipairs
local byte, char, format, gsub, sort, concat, floor, date, time =
  string.byte, string.char, string.format, string.gsub, table.sort, table.concat,
  math.floor, os.date, os.time

local M = {}

-- ---- escaping ----

local function hex(c) return format('%%%02X', byte(c)) end

-- Every byte but letters, digits and - . _ ~ as %XX (type 2, the default;
-- type 0 also keeps the characters a URI may hold, for a whole URI).
function M.escape_uri(s, kind)
  if s == nil then return '' end
  s = tostring(s)
  if kind == 0 then
    return (gsub(s, "[^%w%-%._~!#$&'()*+,/:;=?@%[%]]", hex))
  end
  return (gsub(s, '[^%w%-%._~]', hex))
end

-- %XX sequences decoded and '+' read as a space; a bad escape stays.
function M.unescape_uri(s)
  if s == nil then return '' end
  s = gsub(tostring(s), '+', ' ')
  return (gsub(s, '%%(%x%x)', function(h) return char(tonumber(h, 16)) end))
end

local escape, unescape = M.escape_uri, M.unescape_uri

-- A table as a query string: keys in sorted order (OpenResty follows the
-- table's own order, which Lua leaves unspecified), `true` as a bare key,
-- `false` left out, arrays as repeated keys.
function M.encode_args(args)
  if type(args) ~= 'table' then
    error('bad argument #1 to \'encode_args\' (table expected, got ' .. type(args) .. ')', 2)
  end
  local keys = {}
  for k in pairs(args) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  local out = {}
  local function add(k, v)
    local t = type(v)
    if v == true then
      out[#out + 1] = escape(k)
    elseif t == 'string' or t == 'number' then
      out[#out + 1] = escape(k) .. '=' .. escape(tostring(v))
    elseif v ~= false then
      error(('attempt to use %s as query arg value'):format(t), 3)
    end
  end
  for _, k in ipairs(keys) do
    local v = args[k]
    if v == nil then v = args[tonumber(k)] end
    if type(v) == 'table' then
      for i = 1, #v do add(k, v[i]) end
    else
      add(k, v)
    end
  end
  return concat(out, '&')
end

-- A query string as a table: `true` for a bare key, arrays for repeated
-- keys, at most `max` (100; 0: any number) arguments.
function M.decode_args(s, max)
  return decodeForm(tostring(s or ''), {}, max or 100, '[^&]+')
end

-- ---- time ----

M.now = builtins.now
function M.time() return floor(builtins.now()) end
function M.update_time() end
function M.today() return date('%Y-%m-%d') end
function M.localtime() return date('%Y-%m-%d %H:%M:%S') end
function M.utctime() return date('!%Y-%m-%d %H:%M:%S') end
function M.http_time(t) return date('!%a, %d %b %Y %H:%M:%S GMT', floor(tonumber(t) or 0)) end
function M.cookie_time(t) return date('!%a, %d-%b-%y %H:%M:%S GMT', floor(tonumber(t) or 0)) end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
                 Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- "Thu, 18 Nov 2010 11:27:35 GMT" (or the cookie form) -> seconds, or nil.
function M.parse_http_time(s)
  local d, mon, y, h, mi, sec = tostring(s):match('^%a+, (%d+)[ -](%a+)[ -](%d+) (%d+):(%d+):(%d+) GMT$')
  if not d or not MONTHS[mon] then return nil end
  y = tonumber(y)
  if y < 100 then y = y + (y < 70 and 2000 or 1900) end
  -- Days from 1970-01-01 to the date (a proleptic Gregorian calendar).
  local m = MONTHS[mon]
  local yy = m <= 2 and y - 1 or y
  local era = floor(yy / 400)
  local yoe = yy - era * 400
  local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

-- ---- encodings and digests ----

local function str(v, fname)
  if type(v) == 'string' then return v end
  if type(v) == 'number' then return tostring(v) end
  if v == nil then return '' end
  error(('bad argument #1 to \'%s\' (string expected, got %s)'):format(fname, type(v)), 3)
end

function M.encode_base64(s, noPadding) return native.encode_base64(str(s, 'encode_base64'), noPadding) end
function M.decode_base64(s)
  if type(s) ~= 'string' then error('bad argument #1 to \'decode_base64\' (string expected)', 2) end
  return native.decode_base64(s)
end

function M.md5_bin(s) return native.digest('md5', str(s, 'md5_bin')) end
function M.md5(s)
  return (gsub(native.digest('md5', str(s, 'md5')), '.', function(c) return format('%02x', byte(c)) end))
end
function M.sha1_bin(s) return native.digest('sha1', str(s, 'sha1_bin')) end
function M.hmac_sha1(key, s) return native.hmac_sha1(str(key, 'hmac_sha1'), str(s, 'hmac_sha1')) end
function M.crc32_long(s) return native.crc32(str(s, 'crc32_long')) end
function M.crc32_short(s) return native.crc32(str(s, 'crc32_short')) end

local SQL = { ['\0'] = '\\0', ['\b'] = '\\b', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
              ['\26'] = '\\Z', ['\\'] = '\\\\', ["'"] = "\\'", ['"'] = '\\"' }

-- A MySQL string literal: quoted, with quotes, backslashes and control
-- bytes escaped.
function M.quote_sql_str(s)
  return "'" .. gsub(str(s, 'quote_sql_str'), '[%z\b\n\r\t\26\\\'"]', SQL) .. "'"
end

return M
