import Testing
import TrainyardCore
import TrainyardQuota

/// The claims fold, record by record.
@Suite("Quota ledger")
struct QuotaLedgerTests {
    let jobs = (0..<6).map { _ in JobID.generate() }

    func claim(_ index: Int, team: String = "a", target: String = "sim", gpus: Int = 0, limits: ClaimLimits) -> QuotaClaim {
        QuotaClaim(
            team: team, target: target, job: jobs[index], attempt: 1, resources: QuotaResources(gpus: gpus), limits: limits, worker: "w1")
    }

    @Test("claims are granted up to the limit, the next is denied with the reason a held job shows, a release frees a slot")
    func grantDenyRelease() {
        var ledger = QuotaLedger()
        let limits = ClaimLimits(team: QuotaLimit(maxAttempts: 2))
        #expect(ledger.apply(claim(0, limits: limits)) == .granted)
        #expect(ledger.apply(claim(1, limits: limits)) == .granted)
        let denied = ledger.apply(claim(2, limits: limits))
        guard case .denied(let denial) = denied else {
            Issue.record("expected a denial, got \(denied)")
            return
        }
        #expect(denial.reason == "team quota: 2 of 2 running")
        #expect(ledger.usage(team: "a").attempts == 2)
        #expect(ledger.apply(claim(1, team: "b", limits: limits)) == .alreadyGranted, "a job holding a grant is granted again")
        #expect(ledger.apply(QuotaRelease(job: jobs[0], worker: "w1"))?.team == "a")
        #expect(ledger.apply(QuotaRelease(job: jobs[0], worker: "w1")) == nil, "a second release of the same job does nothing")
        #expect(ledger.usage(team: "a").attempts == 1)
        #expect(ledger.apply(claim(2, limits: limits)) == .granted)
    }

    @Test("a claim landing after its job's release (a replaced worker's late claim) is not granted and leaves no grant behind")
    func lateClaimAfterRelease() {
        var ledger = QuotaLedger()
        let limits = ClaimLimits(team: QuotaLimit(maxAttempts: 1))
        #expect(ledger.apply(claim(0, limits: limits)) == .granted)
        ledger.apply(QuotaRelease(job: jobs[0], worker: "w1"))
        #expect(ledger.apply(claim(0, limits: limits)) == .released)
        #expect(ledger.grants.isEmpty)
        #expect(ledger.usage(team: "a") == .zero)
        #expect(ledger.apply(claim(1, limits: limits)) == .granted, "the team's slot is free for its next job")
    }

    @Test("other teams are not counted; GPU and per-target limits deny with their own reasons")
    func resourcesAndTargets() {
        var ledger = QuotaLedger()
        let gpuLimit = ClaimLimits(team: QuotaLimit(maxGPUs: 4))
        #expect(ledger.apply(claim(0, gpus: 3, limits: gpuLimit)) == .granted)
        #expect(ledger.apply(claim(1, team: "b", gpus: 3, limits: gpuLimit)) == .granted)
        guard case .denied(let gpus) = ledger.apply(claim(2, gpus: 2, limits: gpuLimit)) else {
            Issue.record("expected a GPU denial")
            return
        }
        #expect(gpus.reason == "team quota: 3 of 4 GPUs in use")
        let perTarget = ClaimLimits(team: .unlimited, target: QuotaLimit(maxAttempts: 1))
        #expect(ledger.apply(claim(3, target: "gpu", limits: perTarget)) == .granted)
        guard case .denied(let onTarget) = ledger.apply(claim(4, target: "gpu", limits: perTarget)) else {
            Issue.record("expected a per-target denial")
            return
        }
        #expect(onTarget.reason == "team quota on gpu: 1 of 1 running")
        #expect(ledger.apply(claim(5, target: "cpu", limits: perTarget)) == .granted, "another target of the same team has its own count")
        #expect(ledger.usage(team: "a", target: "gpu").attempts == 1)
        #expect(ledger.usage(team: "a").attempts == 3)
    }

    @Test("records survive their encoding; bytes that are not a record decode to nil")
    func encoding() throws {
        let record = QuotaRecord.claim(claim(0, gpus: 2, limits: ClaimLimits(team: QuotaLimit(maxAttempts: 4), target: QuotaLimit(maxCPUs: 2.5))))
        #expect(QuotaRecord.decode(try record.encoded()) == record)
        let release = QuotaRecord.release(QuotaRelease(job: jobs[1], worker: "w2"))
        #expect(QuotaRecord.decode(try release.encoded()) == release)
        #expect(QuotaRecord.decode(Array("{\"claim\":{}}".utf8)) == nil)
        #expect(QuotaRecord.decode([0xFF, 0x00]) == nil)
    }
}
