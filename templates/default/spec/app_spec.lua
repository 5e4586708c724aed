-- Specs of {{name}}'s routes: run them with `lusty test`. request() sends a
-- request through the app's pipeline without a socket and returns
-- { status, headers, body, json, errors }.
describe('routes', function()
  it('serves the home page as HTML', function()
    local res = request('GET', '/', { headers = { accept = 'text/html' } })
    assert.are.equal(200, res.status)
    assert.matches('text/html', res.headers['content-type'], 1, true)
  end)

  it('answers an unknown path with the 404 page', function()
    local res = request('GET', '/no/such/page', { headers = { accept = 'text/html' } })
    assert.are.equal(404, res.status)
  end)

  it('answers a failing route with the 500 page', function()
    local res = request('GET', '/boom', { headers = { accept = 'text/html' } })
    assert.are.equal(500, res.status)
    assert.matches('fails on purpose', res.errors[1], 1, true)
  end)
end)
