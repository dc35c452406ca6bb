/// The login form: the person pastes an API key; the server answers with a session cookie.
/// For a login link that would switch the browser to another principal (or whose context the
/// server cannot see), the page says whom the link logs in and asks first.
struct LoginPage {
    /// A login link waiting for the person's confirmation.
    struct Link {
        var token: String
        /// Whom the link logs in.
        var holder: Principal
        /// Whom the browser is logged in as now, if anyone.
        var current: Principal?
    }

    /// Where to go after logging in (a local path).
    var next: String
    var error: String?
    var link: Link?

    init(next: String, error: String? = nil, link: Link? = nil) {
        self.next = next
        self.error = error
        self.link = link
    }

    func render() -> String {
        var body = "<h1>Log in</h1>"
        if let error { body += "<p class=\"error\">\(HTML.escape(error))</p>" }
        if let link {
            body += "<p id=\"link-holder\">This login link logs this browser in as <b>\(Self.describe(link.holder))</b>.</p>"
            if let current = link.current {
                body += "<p class=\"error\" id=\"switch\">You are logged in as <b>\(Self.describe(current))</b>; continuing ends that.</p>"
            }
            body += """
                <form method="post" action="/login"><input type="hidden" name="token" value="\(HTML.escape(link.token))">\
                <input type="hidden" name="next" value="\(HTML.escape(next))">\
                <button type="submit">Log in as \(HTML.escape(link.holder.name))</button> <a href="/">No, go back</a></form>
                """
            return HTML.page(title: "Log in", principal: nil, body: body)
        }
        body += """
            <form method="post" action="/login"><input type="hidden" name="next" value="\(HTML.escape(next))">
            <label>API key <input type="password" name="key" size="72" autocomplete="current-password" required></label>
            <button type="submit">Log in</button></form>
            <p><small>Keys come from <code>trainyard api-key create</code>; ./ops/quickstart prints where its development key is.</small></p>
            """
        return HTML.page(title: "Log in", principal: nil, body: body)
    }

    private static func describe(_ principal: Principal) -> String {
        HTML.escape(principal.name) + " (" + (principal.team.map { "team " + HTML.escape($0) } ?? "admin") + ")"
    }
}
