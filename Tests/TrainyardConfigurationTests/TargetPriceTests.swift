import Foundation
import SageMakerBackend
import Testing
import TrainyardBackends
import TrainyardConfiguration
import TrainyardCore
import TrainyardTesting

/// Prices per target from the worker's configuration file, and the cost of an attempt.
@Suite("Target prices and attempt costs")
struct TargetPriceTests {
    func load(_ text: String) throws -> WorkerConfigFile {
        let directory = try TestEnvironment.temporaryDirectory("prices")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("worker.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try WorkerConfigFile.load(path: path)
    }

    let gpuSpec = JobSpec(name: "train", team: "t", command: ["true"], resources: Resources(cpu: 4, memoryMiB: 16_384, gpu: 1))

    @Test("resource rates: cpu × cpuHour + GiB × gibHour + gpu × gpuHour; no prices costs 0")
    func resourceRates() throws {
        let file = try load(
            """
            backends:
              - {name: k8s, type: kubernetes, prices: {cpuHour: 0.04, gibHour: 0.005, gpuHour: 2.5}}
              - {name: laptop, type: local}
            """)
        #expect(file.backends[0].pricing.hourlyPrice(for: gpuSpec) == HourlyPrice(usd: 4 * 0.04 + 16 * 0.005 + 2.5))
        #expect(file.backends[1].pricing.hourlyPrice(for: gpuSpec) == HourlyPrice(usd: 0))
    }

    @Test("SageMaker: the table's on-demand price of the chosen instance type, an override, or 0 flagged as an estimate")
    func sagemakerPrices() throws {
        let table = SageMakerPricing()
        #expect(table.hourlyPrice(for: gpuSpec) == HourlyPrice(usd: 0.736))  // ml.g4dn.xlarge
        var explicit = gpuSpec
        explicit.resources.instanceType = "ml.trn1.2xlarge"
        #expect(table.hourlyPrice(for: explicit) == HourlyPrice(usd: 0, isEstimate: true))
        #expect(SageMakerPricing(overrides: ["ml.trn1.2xlarge": 1.34]).hourlyPrice(for: explicit) == HourlyPrice(usd: 1.34))
        let file = try load(
            """
            backends:
              - {name: sm, type: sagemaker, roleArn: "arn:aws:iam::123456789012:role/r", prices: {instanceTypes: {ml.g4dn.xlarge: 0.5}}}
            """)
        #expect(file.backends[0].pricing.hourlyPrice(for: gpuSpec) == HourlyPrice(usd: 0.5))
    }

    @Test(
        "prices that do not fit the target or are not prices are refused, naming the field",
        arguments: [
            ("{name: k, type: kubernetes, prices: {cpuHour: -1}}", "prices.cpuHour"),
            ("{name: k, type: kubernetes, prices: {cpuHours: 1}}", "unknown price \"cpuHours\""),
            ("{name: k, type: kubernetes, prices: {instanceTypes: {ml.m5.large: 1}}}", "applies to sagemaker targets only"),
            ("{name: s, type: sagemaker, roleArn: r, prices: {gpuHour: 3}}", "priced by instance type"),
            ("{name: s, type: sagemaker, roleArn: r, prices: {instanceTypes: {m5.large: 1}}}", "needs an ml.* instance type"),
        ])
    func refused(entry: String, message: String) throws {
        do {
            _ = try load("backends:\n  - \(entry)\n")
            Issue.record("\(entry) was accepted")
        } catch let error as ConfigFileError {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test("an attempt costs price × billed time: the backend's billable time when given, else running → end; 0 when it never ran")
    func charges() {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let hourly = HourlyPrice(usd: 3.6)
        let ran = BackendOutcome(state: .failed, finishedAt: start.addingTimeInterval(100), startedAt: start)
        #expect(AttemptCharge(outcome: ran, price: hourly, backendReportsBilledTime: false) == AttemptCharge.expected(0.1, 100, false))
        // SageMaker without BillableTimeInSeconds: measured, so an estimate.
        #expect(AttemptCharge(outcome: ran, price: hourly, backendReportsBilledTime: true) == AttemptCharge.expected(0.1, 100, true))
        var billed = ran
        billed.billedSeconds = 80
        #expect(AttemptCharge(outcome: billed, price: hourly, backendReportsBilledTime: true) == AttemptCharge.expected(0.08, 80, false))
        let cancelledBeforeStart = BackendOutcome(state: .cancelled, finishedAt: start)
        #expect(AttemptCharge(outcome: cancelledBeforeStart, price: hourly, backendReportsBilledTime: true) == AttemptCharge.expected(0, 0, false))
        #expect(
            AttemptCharge(outcome: ran, price: HourlyPrice(usd: 0, isEstimate: true), backendReportsBilledTime: false)
                == AttemptCharge.expected(0, 100, true))
    }
}

extension AttemptCharge {
    static func expected(_ usd: Double, _ seconds: Double, _ estimate: Bool) -> AttemptCharge {
        var charge = AttemptCharge(
            outcome: BackendOutcome(state: .succeeded, finishedAt: Date(timeIntervalSince1970: 0)), price: HourlyPrice(usd: 0),
            backendReportsBilledTime: false)
        charge.costUSD = usd
        charge.billedSeconds = seconds
        charge.isEstimate = estimate
        return charge
    }
}
