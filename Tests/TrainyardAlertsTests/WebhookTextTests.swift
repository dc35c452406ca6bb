import Foundation
import Testing
import TrainyardAlerts
import TrainyardCore

@Suite("Alert webhook text")
struct WebhookTextTests {
    @Test("job-controlled text in the Slack line cannot mention a channel or disguise a link; the structured alert keeps it as written")
    func slackMarkupEscaped() throws {
        let hostile = "exit code 1 (Error: <!channel> see <https://evil.example|the runbook> & <@U123>)"
        let alert = AlertMessage(
            alertID: "job-failed:x", rule: .jobFailed, severity: .warning, team: "t", summary: "job j ended FAILED: \(hostile)",
            firedAt: Date(timeIntervalSince1970: 0))
        let body = try #require(try JSONSerialization.jsonObject(with: try WebhookNotifier.body(for: alert)) as? [String: Any])
        let text = try #require(body["text"] as? String)
        #expect(
            text
                == "[FIRING] warning job j ended FAILED: exit code 1 (Error: &lt;!channel&gt; see &lt;https://evil.example|the runbook&gt; &amp; &lt;@U123&gt;)"
        )
        #expect(!text.contains("<") && !text.contains(">"))
        #expect((body["alert"] as? [String: Any])?["summary"] as? String == "job j ended FAILED: \(hostile)")
    }
}
