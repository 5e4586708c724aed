-- GET /  (the one route)
--
-- Route files are chunks, not modules: lusty.router runs this file for each
-- matching request with the locals `context` (this request) and `config`
-- already defined. Setting context.output to a string is enough; lusty.html
-- sends it.
context.response.status = 200
context.output = 'Hello from {{name}}!'
