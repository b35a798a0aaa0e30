#!/usr/bin/env python3
"""Removes one rule at a time from the decider and checks that at least one test fails.

Usage (from the repository root): python3 domain/scripts/check_rules_mutations.py [index ...]
Each mutation edits one source file, runs `cargo test -p diario-domain`, prints the failing
tests and restores the file. A mutation with 0 failing tests means a rule is untested.
"""
import subprocess, re, sys
import os
ROOT=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src') + '/'
muts = [
 ("15-day window", "case/entries.rs", "if today <= deadline {", "if true {"),
 ("overlap", "case/entries.rs", "if let Some(other) = clash {", "if let Some(other) = clash.filter(|_| false) {"),
 ("author only (amend, withdraw)", "case/entries.rs", "    if entry.professional != cf {\n        return Err(DomainError::NotEntryAuthor {", "    if false {\n        return Err(DomainError::NotEntryAuthor {"),
 ("confirmed never change", "case/entries.rs", "if entry.confirmed {", "if false {"),
 ("pending-request lock", "case/entries.rs", "if entry.pending_request.is_some() {", "if false {"),
 ("validated lock", "case/entries.rs", "&& entry.validated", "&& false"),
 ("late answer refused", "case/confirmation.rs", "&& ctx.now > deadline", "&& false"),
 ("resend after 1 day", "case/confirmation.rs", "if ctx.now <= allowed_from {", "if false {"),
 ("FirmaLOM required for digital", "case/confirmation.rs", "    if !file.recipient.firmalom_enrolled {\n        return Err(DomainError::DigitalConfirmationUnavailable);\n    }\n    let entries", "    let entries"),
 ("checklist gating", "case/confirmation.rs", "if checklist.passed {", "if true {"),
 ("nothing after interruption", "case/mod.rs", "if file.interrupted_at.is_some() {", "if false {"),
 ("Art9 deadline after failure start", "failures.rs", "if deadline < civil_date(self.began_at) {", "if false {"),
 ("Art9 5-day grace", "failures.rs", "if today > until {", "if false {"),
 ("phase responsabile", "case/mod.rs", "if file.responsabile(rules.registered_by) == Some(cf) {", "if true {"),
 ("only enabled professionals", "case/entries.rs", "    if figures.is_empty() {\n        return Err(DomainError::ProfessionalNotEnabled", "    if false {\n        return Err(DomainError::ProfessionalNotEnabled"),
 ("nothing after closure", "case/mod.rs", "if diary.status == DiaryStatus::Open {", "if true {"),
 ("one pending request per entry", "case/confirmation.rs", "        if e.pending_request.is_some() {\n            return Err(DomainError::EntryInPendingRequest", "        if false {\n            return Err(DomainError::EntryInPendingRequest"),
 ("rejection reopens whole diary", "case/evolve.rs", "if whole {", "if false {"),
 ("service in phase", "case/entries.rs", "if !s.phases.contains(&phase) {", "if false {"),
 ("no entries in the future", "case/entries.rs", "if slot.end_local() > civil_datetime(ctx.now) {", "if false {"),
 ("PDI caps phase III", "checklist.rs", "if measure.phase(phase).is_some_and(|r| r.pdi_caps) {", "if false {"),
 ("whole diary validated before closure", "case/closure.rs", "if !unvalidated.is_empty() {", "if false {"),
 ("recipient pseudonym (Art. 10)", "case/setup.rs", "    check_pseudonym(&c.recipient.pseudonym)?;\n", ""),
 ("interruption ends requests", "case/evolve.rs", "                    r.status = RequestStatus::Ended;", "                    let _ = r;"),
 ("ASST of the case's ATS (Art. 3)", "organisations.rs", "if the_asst.ats.as_deref() != Some(ats) {", "if false {"),
 ("provider registered (Art. 3)", "organisations.rs", "        self.require(\"provider\", provider, &[OrgKind::Provider])?;\n", ""),
 ("grant scope registered (Art. 4)", "grants.rs", "                registry.require(\"scope\", scope, grant.role.scope_kinds())?;\n", ""),
 ("organisation code taken", "organisations.rs", "                Some(_) => Err(OrganisationError::CodeTaken(organisation.code.clone())),", "                Some(_) => Ok(Vec::new()),"),
 ("staff names checked", "staff.rs", "            check_name(\"family_name\", family_name)?;\n", ""),
 ("staff figures in catalogue", "staff.rs", "                return Err(StaffError::UnknownFigure(unknown.clone()));", "                let _ = unknown;"),
 ("withdrawal reason kept", "case/entries.rs", "        reason: given_reason(c.reason.as_deref()),\n        by: cf,\n        at: ctx.now,\n    }])\n}\n\n/// Art. 5-6", "        reason: None,\n        by: cf,\n        at: ctx.now,\n    }])\n}\n\n/// Art. 5-6"),
 ("expired request keeps its entries (Art. 5)", "case/entries.rs", "if last.is_some_and(|r| r.status == RequestStatus::Expired) {", "if false {"),
]
sel = sys.argv[1:] 
for i,(name, f, old, new) in enumerate(muts):
    if sel and str(i) not in sel: continue
    path = ROOT+f
    src = open(path).read()
    n = src.count(old)
    if n != 1:
        print(f"{i} {name}: pattern found {n} times, SKIPPED", flush=True); continue
    open(path,'w').write(src.replace(old,new))
    try:
        r = subprocess.run("cargo test -p diario-domain --no-fail-fast 2>&1", shell=True, capture_output=True, text=True)
        out = r.stdout
        failed = sorted(set(n for n in re.findall(r"^    (\S+)$", out, re.M) if "::" in n or n.startswith("random_") or n.startswith("the_generator")))
        comp = "error[" in out
        print(f"{i} {name}: {'COMPILE ERROR' if comp else ''} {len(failed)} failing: {failed[:6]}", flush=True)
    finally:
        open(path,'w').write(src)
