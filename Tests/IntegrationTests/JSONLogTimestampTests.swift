import Foundation
import Testing

@testable import TrainyardObservability

@Suite("JSON log timestamps")
struct JSONLogTimestampTests {
    @Test("log lines carry UTC time with milliseconds in the ISO 8601 form log pipelines parse")
    func format() {
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 1_764_815_467.25)) == "2025-12-04T02:31:07.250Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 951_825_599.5)) == "2000-02-29T11:59:59.500Z")
    }
}
