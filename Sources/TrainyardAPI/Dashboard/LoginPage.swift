/// The login form: the person pastes an API key; the server answers with a session cookie.
struct LoginPage {
    /// Where to go after logging in (a local path).
    var next: String
    var error: String?

    func render() -> String {
        var body = "<h1>Log in</h1>"
        if let error { body += "<p class=\"error\">\(HTML.escape(error))</p>" }
        body += """
            <form method="post" action="/login"><input type="hidden" name="next" value="\(HTML.escape(next))">
            <label>API key <input type="password" name="key" size="72" autocomplete="current-password" required></label>
            <button type="submit">Log in</button></form>
            <p><small>Keys come from <code>trainyard api-key create</code>; ./ops/quickstart prints where its development key is.</small></p>
            """
        return HTML.page(title: "Log in", principal: nil, body: body)
    }
}
