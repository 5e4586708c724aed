-- Wraps a page view in the shared layout. Every HTML route calls this, so a
-- route file only names its own content view:
--
--   require('helpers.page')(context, 'pages/users/index')
--
-- Names are relative to the `base` given to lusty.mustache in app/config.lua
-- and have no .mustache extension. lusty.mustache only uses the template
-- when the client accepts HTML; JSON clients get context.output as it is.
return function(context, content)
  context.template = {
    type = 'mustache',
    name = 'layout',
    partials = {
      head = 'partials/head',
      header = 'partials/header',
      footer = 'partials/footer',
      content = content,
    },
  }
end
