import Foundation
import TrainyardCore

/// Small helpers for the dashboard's server-rendered HTML. Every string that comes from a user
/// or a job (names, teams, labels, reasons) goes through `escape`.
enum HTML {
    /// Escapes text for element content and double- or single-quoted attribute values.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Percent-encodes a query parameter value.
    static func queryValue(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// `1m 05s`, `2h 03m`, `0.4s`.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "–" }
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm %02ds", whole / 60, whole % 60) }
        return String(format: "%dh %02dm", whole / 3600, whole % 3600 / 60)
    }

    static func time(_ date: Date?) -> String {
        date.map { WireFormat.formatTimestamp($0).replacingOccurrences(of: "T", with: " ") } ?? "–"
    }

    /// A coloured state label.
    static func badge(_ state: JobState) -> String {
        "<span class=\"badge \(badgeClass(state))\">\(state.rawValue)</span>"
    }

    static func badgeClass(_ state: JobState) -> String {
        switch state {
        case .succeeded: "ok"
        case .failed, .timedOut, .rejected: "bad"
        case .cancelled: "muted"
        case .running: "run"
        default: "wait"
        }
    }

    /// Fill colour of a state in the timeline chart.
    static func color(_ state: JobState) -> String {
        switch badgeClass(state) {
        case "ok": "#2e7d32"
        case "bad": "#c62828"
        case "muted": "#757575"
        case "run": "#1565c0"
        default: "#f9a825"
        }
    }

    /// The page frame: no scripts; `refreshSeconds` reloads the page (the jobs list).
    static func page(title: String, principal: Principal?, refreshSeconds: Int? = nil, body: String) -> String {
        let refresh = refreshSeconds.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? ""
        let who =
            principal.map { principal in
                """
                <form class="who" method="post" action="/logout">\(escape(principal.name)) · \(principal.team.map { "team " + escape($0) } ?? "admin") \
                <button type="submit">Log out</button></form>
                """
            } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\(refresh)
            <title>\(escape(title)) · Trainyard</title><style>\(style)</style></head>
            <body><header><a class="brand" href="/">Trainyard</a>\(who)</header><main>\(body)</main></body></html>
            """
    }

    private static let style = """
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212121;background:#fafafa}
        header{display:flex;justify-content:space-between;align-items:center;padding:8px 20px;background:#263238;color:#fff}
        header a.brand{color:#fff;font-weight:600;font-size:16px;text-decoration:none}.who{margin:0;font-size:13px}
        main{padding:12px 20px;max-width:1400px}h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:18px 0 6px}
        table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e0e0e0;vertical-align:top}
        th{background:#eceff1;font-weight:600;font-size:13px}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff}
        .ok{background:#2e7d32}.bad{background:#c62828}.muted{background:#757575}.run{background:#1565c0}.wait{background:#f9a825;color:#212121}
        .strip{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.tile{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:6px 12px}
        .tile b{display:block;font-size:18px}.filters{margin:10px 0;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;background:#fff;padding:10px;border:1px solid #e0e0e0}dt{font-weight:600}dd{margin:0}
        pre{background:#fff;border:1px solid #e0e0e0;padding:10px;overflow:auto;font-size:12px}.reason{color:#b71c1c}
        .error{color:#b71c1c;font-weight:600}.pager{margin:10px 0}
        """
}
