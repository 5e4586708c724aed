-- lusty.manifest (internal): the project's lusty.json as a table, read
-- once per Lua host when first required; an empty table when there is no
-- project, no file, or text that is not a JSON object (the CLI has
-- already said what is wrong with it). The built-in modules that read
-- settings of their own from it (lusty.store.backend, ngx.shared) share
-- this one reading.
local cjson = require 'cjson'
local native = require 'lusty.native'

local root = native.root()
local f = root and io.open(root .. '/lusty.json', 'rb')
if not f then return {} end
local text = f:read('*a')
f:close()
local ok, manifest = pcall(cjson.decode, text)
return ok and type(manifest) == 'table' and manifest or {}
