-- App configuration for {{name}}: every request is published on 'request'
-- (where the router picks a route file) and then on 'output' (where the
-- answer is sent).
return {
  subscribers = {
    -- Runs app/requests/index.lua for the path / and nothing else; any other
    -- path is left with the 404 status the router sets before matching.
    ['request'] = {
      ['lusty.router'] = {
        patterns = {
          { [''] = 'requests.index' },
        },
      },
    },

    -- Sends context.output when it is a string.
    ['output'] = { 'lusty.html' },
  },

  publishers = { 'request', 'output' },
}
