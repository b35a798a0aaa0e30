#!/usr/bin/env python3
"""Removes one rule at a time from the decider and checks that at least one test fails.

Usage (from the repository root): python3 domain/scripts/check_rules_mutations.py [index ...]
Each mutation edits one source file, runs `cargo test -p diario-domain`, prints the failing
tests and restores the file. A mutation with 0 failing tests means a rule is untested; a pattern that no longer matches or
a mutant that does not compile is a failure too. Exits non-zero on any of them (CI runs it).
"""
import subprocess, re, sys
import os
ROOT=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src') + '/'
muts = [
 ("15-day window", "case/entries.rs", "if today <= deadline {", "if true {"),
 ("overlap", "case/entries.rs", "if let Some(other) = clash {", "if let Some(other) = clash.filter(|_| false) {"),
 ("author only (amend, withdraw)", "case/entries.rs", "    let changer = if entry.professional == cf {", "    let changer = if true {"),
 ("confirmed never change", "case/entries.rs", "    if entry.confirmed {\n        return Err(DomainError::EntryConfirmed(entry.id));\n    }\n    match file.diaries", "    if false {\n        return Err(DomainError::EntryConfirmed(entry.id));\n    }\n    match file.diaries"),
 ("pending-request lock", "case/entries.rs", "if entry.pending_request.is_some() {", "if false {"),
 ("validated lock", "case/entries.rs", "&& entry.validated", "&& false"),
 ("late answer refused", "case/confirmation.rs", "&& ctx.now > deadline", "&& false"),
 ("resend after 1 day", "case/confirmation.rs", "if !undelivered && ctx.now <= allowed_from {", "if !undelivered && false {"),
 ("FirmaLOM required for digital", "case/confirmation.rs", "    if !file.recipient.firmalom_enrolled {\n        return Err(DomainError::DigitalConfirmationUnavailable);\n    }\n    let entries = sendable_entries", "    let entries = sendable_entries"),
 ("checklist gating", "case/confirmation.rs", "if checklist.passed {", "if true {"),
 ("nothing after interruption", "case/mod.rs", "if file.interrupted_at.is_some() {", "if false {"),
 ("Art9 deadline after failure start", "failures.rs", "if deadline < civil_date(self.began_at) || after_resolution {", "if after_resolution {"),
 ("Art9 5-day grace", "failures.rs", "if today > until {", "if false {"),
 ("phase responsabile", "case/mod.rs", "if file.responsabile(rules.registered_by) == Some(cf) {", "if true {"),
 ("only enabled professionals", "case/entries.rs", "    if figures.is_empty() {\n        return Err(DomainError::ProfessionalNotEnabled", "    if false {\n        return Err(DomainError::ProfessionalNotEnabled"),
 ("nothing after closure", "case/mod.rs", "if diary.status == DiaryStatus::Open {", "if true {"),
 ("one pending request per entry", "case/confirmation.rs", "        if e.pending_request.is_some() {\n            return Err(DomainError::EntryInPendingRequest", "        if false {\n            return Err(DomainError::EntryInPendingRequest"),
 ("rejection reopens whole diary", "case/evolve.rs", "if whole {", "if false {"),
 ("service in phase", "case/entries.rs", "if !s.phases.contains(&phase) {", "if false {"),
 ("no entries in the future", "case/entries.rs", "if slot.end_instant() > ctx.now {", "if false {"),
 ("PDI caps phase III", "checklist.rs", "if measure.phase(phase).is_some_and(|r| r.pdi_caps) {", "if false {"),
 ("whole diary validated before closure", "case/closure.rs", "if !unvalidated.is_empty() {", "if false {"),
 ("recipient pseudonym (Art. 10)", "case/setup.rs", "    check_pseudonym(&c.recipient.pseudonym)?;\n", ""),
 ("interruption ends requests", "case/evolve.rs", "get_mut(id) {\n                    r.status = RequestStatus::Ended;", "get_mut(id) {\n                    let _ = r;"),
 ("ASST of the case's ATS (Art. 3)", "organisations.rs", "if the_asst.ats.as_deref() != Some(ats) {", "if false {"),
 ("provider registered (Art. 3)", "organisations.rs", "        self.require(\"provider\", provider, &[OrgKind::Provider])?;\n", ""),
 ("grant scope registered (Art. 4)", "grants.rs", "                registry.require(\"scope\", scope, grant.role.scope_kinds())?;\n", ""),
 ("organisation code taken", "organisations.rs", "                Some(_) => Err(OrganisationError::CodeTaken(organisation.code.clone())),", "                Some(_) => Ok(Vec::new()),"),
 ("staff names checked", "staff.rs", "            check_name(\"family_name\", family_name)?;\n", ""),
 ("staff figures in catalogue", "staff.rs", "                return Err(StaffError::UnknownFigure(unknown.clone()));", "                let _ = unknown;"),
 ("withdrawal reason kept", "case/entries.rs", "    let reason = given_reason(c.reason.as_deref());\n    if changer", "    let reason = given_reason(None);\n    if changer"),
 ("expired request keeps its entries (Art. 5)", "case/entries.rs", "if last.is_some_and(|r| r.status == RequestStatus::Expired) {", "if false {"),
 ("amendment reason required (Art. 5 errore materiale)", "case/entries.rs", "given_reason(c.reason.as_deref()).ok_or(DomainError::CorrectionReasonMissing)?;", "given_reason(c.reason.as_deref()).unwrap_or_default();"),
 ("late amendment adds no minutes (Art. 5)", "case/entries.rs", "if c.slot.minutes() > entry.slot.minutes() {", "if false {"),
 ("late amendment keeps the date (Art. 5)", "case/entries.rs", "    if c.slot.date != entry.slot.date {\n        return Err(DomainError::LateAmendmentMovesDate", "    if false {\n        return Err(DomainError::LateAmendmentMovesDate"),
 ("late amendment no dearer figure (Art. 5)", "case/entries.rs", "if cost(&c.figure) > cost(&entry.figure) {", "if false {"),
 ("responsabile only shortens (Art. 6)", "case/entries.rs", "            if c.figure != entry.figure\n", "            if false && c.figure != entry.figure\n"),
 ("responsabile acts on a disabled author's entries (Art. 6)", "case/entries.rs", "} else if enabled_figures(file, ctx, entry.phase, &entry.professional).is_err()", "} else if false"),
 ("responsabile withdraws with a reason (Art. 6)", "case/entries.rs", "if changer == Changer::Responsabile && reason.is_none() {", "if false {"),
 ("start on any minute (Art. 5)", "values.rs", "if t.second() != 0 || t.nanosecond() != 0 {", "if t.second() != 0 || t.nanosecond() != 0 || t.minute() % 30 != 0 {"),
 ("end at 24:00 (Art. 5)", "values.rs", "if end == start || (!slot.ends_at_midnight() && end <= start) {", "if end <= start {"),
 ("real elapsed minutes in Rome (Art. 5)", "values.rs", "        self.interval()\n            .map(|(s, e)| u32::try_from((e - s).num_minutes()).unwrap_or(0))", "        Some((self.date.and_time(self.start), self.end_local()))\n            .map(|(s, e)| u32::try_from((e - s).num_minutes()).unwrap_or(0))"),
 ("nonexistent local times refused (Art. 5)", "values.rs", "if instants(d, t).is_empty() {", "if false {"),
 ("duration multiple of the granularity (Art. 5)", "case/entries.rs", "if !slot.minutes().is_multiple_of(granularity) {", "if false {"),
 ("a rejection without a reason is recorded (Art. 6)", "case/confirmation.rs", "        Answer::Rejected { reason } => Ok(vec![rejected(entry_ids, reason.as_deref())]),", "        Answer::Rejected { reason } => {\n            if given_reason(reason.as_deref()).is_none() {\n                return Err(DomainError::AnswerDoesNotMatchRequest);\n            }\n            Ok(vec![rejected(entry_ids, reason.as_deref())])\n        }"),
 ("per-entry answer confirms some (Art. 6)", "case/confirmation.rs", "if !confirmed.is_empty() {", "if false {"),
 ("per-entry answer names each entry once (Art. 6)", "case/confirmation.rs", "if listed.len() != entries.len() || listed != r.entries.keys().copied().collect() {", "if false {"),
 ("whole diary not answered per entry (Art. 6)", "case/confirmation.rs", "            if ctx.phase_rules(r.phase)?.confirmation != ConfirmationMode::PerEntry {", "            if false {"),
 ("hand-over by the system on confirmation (Art. 6-7)", "case/confirmation.rs", "        confirmed_cost_cents: Some(cost),\n        by: None,", "        confirmed_cost_cents: Some(cost),\n        by: file.recipient.confirmers.first().cloned(),"),
 ("validation withdrawal needs a reason (Art. 5-6)", "case/entries.rs", "let reason = given_reason(c.reason.as_deref()).ok_or(DomainError::ReasonRequired)?;", "let reason = given_reason(c.reason.as_deref()).unwrap_or_default();"),
 ("validation withdrawal needs something validated", "case/entries.rs", "    if ids.is_empty() {\n        return Err(DomainError::NoValidationToWithdraw", "    if false {\n        return Err(DomainError::NoValidationToWithdraw"),
 ("validation withdrawn unlocks the entries (Art. 5-6)", "case/evolve.rs", "        CaseEvent::ValidationWithdrawn { entry_ids, .. } => {\n            for id in entry_ids {", "        CaseEvent::ValidationWithdrawn { entry_ids, .. } => {\n            for id in entry_ids.iter().take(0) {"),
 ("paper cancellation needs a reason (Art. 6)", "case/confirmation.rs", "if !c.refused_by_family && reason.is_none() {", "if false {"),
 ("family refusal is a rejection (Art. 6)", "case/evolve.rs", "            if *refused_by_family {", "            if false {"),
 ("cancelled paper releases its entries (Art. 6)", "case/evolve.rs", "                release(file, *paper_id);", "                let _ = paper_id;"),
 ("only the ATS replaces the case manager (Art. 3-4)", "case/setup.rs", "    if ctx.actor.role() != Some(ActorRole::AtsOperator) {\n        return Err(DomainError::NotAtsOperator);\n    }\n    if file.case_manager", "    if false {\n        return Err(DomainError::NotAtsOperator);\n    }\n    if file.case_manager"),
 ("the new case manager takes over (Art. 3)", "case/evolve.rs", "            file.case_manager = case_manager.clone();", "            let _ = case_manager;"),
 ("interruption by a responsabile of a phase not with ATS (Art. 6)", "case/closure.rs", ".is_none_or(|d| d.status != DiaryStatus::HandedToAts)", ".is_none_or(|_| true)"),
 ("interruption for another cause is described (Art. 6)", "case/closure.rs", "if c.cause == InterruptionCause::Other && reason.is_none() {", "if false {"),
 ("interruption records its cause (Art. 6)", "case/closure.rs", "        cause: Some(c.cause),", "        cause: None,"),
 ("a refused checklist is stored (Art. 8)", "case/confirmation.rs", "sendable_entries(file, c.phase, &c.entry_ids)?;\n    let checklist = match passing_checklist(file, ctx, c.phase, &entries, c.request_id, &by) {\n        Ok(checklist) => checklist,\n        Err(refused) => return Ok(vec![*refused]),", "sendable_entries(file, c.phase, &c.entry_ids)?;\n    let checklist = match passing_checklist(file, ctx, c.phase, &entries, c.request_id, &by) {\n        Ok(checklist) => checklist,\n        Err(_) => return Err(DomainError::EmptyConfirmationRequest),"),
 ("a checklist names its catalogue version (Art. 8)", "checklist.rs", "catalogue_version: measure.version.clone(),", "catalogue_version: None,"),
 ("the case manager's figure is the designated case manager's (Art. 3)", "case/setup.rs", "        && (c.professional != file.case_manager\n", "        && false && (c.professional != file.case_manager\n"),
 ("the case manager's ente (Art. 3)", "case/setup.rs", "|| ctx.measure.case_manager_ente.is_some_and(|e| e != c.ente))", "|| false)"),
 ("an adult confirms personally (Art. 6)", "case/setup.rs", "if !minor && confirmers.len() > 1 {", "if false {"),
 ("confirmers are not the staff at opening (Art. 6)", "case/setup.rs", "        if confirmers.contains(s) {", "        if false {"),
 ("a confirmer does not join the staff (Art. 6)", "case/setup.rs", "    if file.recipient.confirmers.contains(cf) {", "    if false {"),
 ("a responsabile changes the confirmers with a reason (Art. 6)", "case/setup.rs", "if !ats && reason.is_none() {", "if false {"),
 ("the new confirmers sign (Art. 6)", "case/evolve.rs", "            file.recipient.confirmers = confirmers.clone();", "            let _ = confirmers;"),
 ("paper to digital for a closed whole diary (Art. 6)", "case/confirmation.rs", "        return whole_diary_after_closure(file, c, ctx);", "        return Err(DomainError::PerEntryConfirmationNotApplicable(c.phase));"),
 ("Art9 deadline during the failure, not after its resolution", "failures.rs", "let after_resolution = self.resolved_at.is_some_and(|r| deadline > civil_date(r));", "let after_resolution = false;"),
 ("Art9 late entry counts once co-signed (Art. 8 check)", "checklist.rs", ".filter(|e| e.system_failure_id.is_some() && e.cosigned_by.is_none())", ".filter(|e| e.system_failure_id.is_some() && e.cosigned_by.is_none() && false)"),
 ("Art9 only the support desk co-signs", "case/entries.rs", "    let by = match &ctx.actor {\n        crate::actor::Actor::Person {\n            fiscal_code,\n            role: crate::actor::ActorRole::Support,\n        } => fiscal_code.clone(),\n        _ => return Err(DomainError::NotSupportDesk),\n    };", "    let by = ctx.person()?.clone();"),
 ("Art9 only late entries are co-signed", "case/entries.rs", "    let Some(failure) = entry.system_failure_id else {\n        return Err(DomainError::NotALateEntry(entry.id));\n    };", "    let failure = entry.system_failure_id.unwrap_or_default();"),
 ("Art9 the co-signature is kept on the entry", "case/evolve.rs", "                e.cosigned_by = Some(by.clone());", "                let _ = by;"),

 ("Art6 the deadline runs from the receipt, not the sending", "case/confirmation.rs", "        deadline: answer_deadline(ctx.measure, c.received_at),", "        deadline: answer_deadline(ctx.measure, r.sent_at),"),
 ("Art6 a request has no deadline before its receipt", "case/confirmation.rs", "        checklist,\n        deadline: None,\n        confirmers: file.recipient.confirmers.clone(),", "        checklist,\n        deadline: Some(add_civil_days_to_instant(ctx.now, 1)),\n        confirmers: file.recipient.confirmers.clone(),"),
 ("Art6 only the system reports deliveries", "case/confirmation.rs", "        Actor::Person { .. } => Err(DomainError::SystemOnly),", "        Actor::Person { .. } => Ok(()),"),
 ("Art6 a report is for the current sending", "case/confirmation.rs", "    if r.sent_at != sent_at {", "    if false {"),
 ("Art6 an undelivered notification alerts the responsabile", "alerts.rs", "(RequestStatus::Pending, ConfirmationChannel::Firmalom) if r.undelivered.is_some() => (", "(RequestStatus::Pending, ConfirmationChannel::Firmalom) if false => ("),
 ("Art6 an undelivered request is re-sent at once", "case/confirmation.rs", "    if !undelivered && ctx.now <= allowed_from {", "    if ctx.now <= allowed_from {"),
 ("Art6 re-send a day after the receipt", "case/confirmation.rs", "add_civil_days_to_instant(r.delivered_at.unwrap_or(r.sent_at), days);", "add_civil_days_to_instant(r.sent_at, days);"),
 ("Art6 only an undelivered request is cancelled", "case/confirmation.rs", "    if r.undelivered.is_none() {\n        return Err(DomainError::NotificationNotUndelivered(r.id));", "    if false {\n        return Err(DomainError::NotificationNotUndelivered(r.id));"),
 ("Art6 a cancellation names its reason", "case/confirmation.rs", "    let reason = given_reason(c.reason.as_deref()).ok_or(DomainError::ReasonRequired)?;\n    Ok(vec![cancellation(", "    let reason = given_reason(c.reason.as_deref()).unwrap_or_default();\n    Ok(vec![cancellation("),
 ("Art6 paper after a cancelled undelivered request", "case/confirmation.rs", "    if file.recipient.firmalom_enrolled && !undeliverable {", "    if file.recipient.firmalom_enrolled {"),
 ("Art6 an undelivered request never blocks the closure", "case/closure.rs", "                .partition(|r| r.undelivered.is_some());", "                .partition(|_| false);"),
 ("Art6 a cancelled request frees its entries", "case/evolve.rs", "                r.status = RequestStatus::Ended;\n            }\n            release(file, *request_id);\n        }\n        CaseEvent::EntriesConfirmed {", "                r.status = RequestStatus::Ended;\n            }\n        }\n        CaseEvent::EntriesConfirmed {"),

 ("Art9 the ticket is opened immediately", "failures.rs", "if ticket_opened_at - *began_at > chrono::Duration::hours(TICKET_WITHIN_HOURS) {", "if false {"),
 ("Art9 the ticket is recorded", "failures.rs", "                ticket_opened_at: Some(ticket_opened_at),", "                ticket_opened_at: None,"),
 ("Art9 the ticket follows the failure", "failures.rs", "if *began_at > ticket_opened_at || ticket_opened_at > now {", "if *began_at > now {"),
 ("one professional, one hour: no overlap on another case", "agenda.rs", "if let Some((other, claim)) = clash {", "if let Some((other, claim)) = clash.filter(|_| false) {"),
 ("one hour: an amended entry does not overlap itself", "agenda.rs", "*id != entry_id && claim.slot.overlaps(slot)", "claim.slot.overlaps(slot)"),
 ("one hour: a withdrawn entry frees its time", "agenda.rs", "            state.remove(entry_id);", "            let _ = entry_id;"),
 ("one hour: an amendment moves the claim", "agenda.rs", "            CaseEvent::EntryAmended { entry_id, slot, .. } => {", "            CaseEvent::EntryAmended { entry_id, slot, .. } if false => {"),
 ("one hour: the import skips withdrawn entries", "agenda.rs", "if e.withdrawn || &e.professional != professional", "if &e.professional != professional"),
 ("sample: at least 10% of the expenditure", "sampling.rs", "if taken >= need_ops && amount >= need_amount {", "if taken >= need_ops {"),
 ("sample: at least 5% of the operations", "sampling.rs", "if taken >= need_ops && amount >= need_amount {", "if amount >= need_amount {"),
 ("sample: thresholds rounded up", "sampling.rs", "i64::try_from((scaled + 99) / 100)", "i64::try_from(scaled / 100)"),
 ("sample: strata by ATS and provider", "sampling.rs", ".entry((o.ats.as_str(), o.provider.as_str()))", ".entry((\"\", \"\"))"),
 ("sample: the documented ranking", "sampling.rs", "    h.update(b\":\");\n", ""),
 ("sample: thresholds checked", "sampling.rs", "        if !(1..=100).contains(&value) {", "        if false {"),
 ("rate: the version in force on the delivery date", "catalogue.rs", "        .find(|m| m.in_force_on(date))", "        .find(|_| true)"),
 ("rate: a version takes effect on its date", "catalogue.rs", "self.effective_from.is_none_or(|from| from <= date)", "true"),
 ("rate: the recorded rate prices the entry", "case/state.rs", "            Some(rate) => rate.unit_cost_cents,", "            Some(_) => measure.hourly_cost(&self.figure),"),
 ("rate: an entry is priced on its delivery date", "case/entries.rs", "        rate: Some(ctx.rate_on(&c.figure, c.slot.date)),\n        at: ctx.now,", "        rate: Some(ctx.rate_on(&c.figure, civil_date(ctx.now))),\n        at: ctx.now,"),
 ("rate: an amendment is priced on its new date", "case/entries.rs", "        rate: Some(ctx.rate_on(&c.figure, c.slot.date)),\n        reason: Some(reason),", "        rate: Some(ctx.rate_on(&c.figure, civil_date(ctx.now))),\n        reason: Some(reason),"),
 ("rate: the hand-over records the claim", "case/confirmation.rs", "        confirmed_cost_cents: Some(cost),", "        confirmed_cost_cents: None,"),
 ("catalogue: versions take effect on distinct dates", "catalogue.rs", "            if a.effective_from == b.effective_from {", "            if false {"),
 ("seal: the odd node goes up unchanged", "seal.rs", "                [odd] => odd.clone(),", "                [odd] => hex_sha256(format!(\"{odd}{odd}\").as_bytes()),"),
 ("seal: once a day", "seal.rs", ".is_some_and(|(last, _)| *last >= day)", ".is_some_and(|_| false)"),
 ("seal: only the changed heads are recorded", "seal.rs", "                .is_none_or(|(v, hash)| *v != h.version || *hash != h.hash)", "                .is_none_or(|_| true)"),
 ("seal: the seals stream is not sealed", "seal.rs", "        .filter(|h| h.stream_id != SEALS_STREAM)", "        .filter(|_| true)"),
 ("rate: a confirmation records what it confirms", "case/confirmation.rs", "                confirmed_cost_cents: Some(worth(file, ctx, &entry_ids)),\n                entry_ids,\n                channel: ConfirmationChannel::Firmalom,", "                confirmed_cost_cents: None,\n                entry_ids,\n                channel: ConfirmationChannel::Firmalom,"),
 ("output document closes the phase (Art. 1)", "case/closure.rs", ".find(|d| file.latest_document(&d.kind).is_none())", ".find(|_| false)"),
 ("documents by the phase's staff (Art. 1)", "case/documents.rs", "if file.responsabile(rules.registered_by) == Some(cf) || &file.case_manager == cf {", "if true {"),
 ("documents: a later document is the next version", "case/documents.rs", "map_or(1, |d| d.version + 1)", "map_or(1, |_| 1)"),
 ("documents: shared only through FirmaLOM", "case/documents.rs", "    if !file.recipient.firmalom_enrolled {\n        return Err(DomainError::DigitalConfirmationUnavailable);\n    }\n    if file.requests.contains_key", "    if file.requests.contains_key"),
 ("documents: one pending sharing at a time", "case/documents.rs", "        .any(|s| s.status == RequestStatus::Pending)\n", "        .any(|_| false)\n"),
 ("documents: answered by a confirmer", "case/documents.rs", "    if !file.recipient.confirmers.contains(&signer) {\n        return Err(DomainError::NotAConfirmer);\n    }\n    if share.status", "    if share.status"),
 ("PDI caps need a PDI document (Art. 8)", "case/setup.rs", "        (Some(kind), None) => Some(\n            file.latest_document(kind)\n                .ok_or_else(|| DomainError::PdiDocumentRequired(kind.clone()))?\n                .reference(),\n        ),", "        (Some(kind), None) => file.latest_document(kind).map(|d| d.reference()),"),
 ("the checklist names the PDI version (Art. 8)", "checklist.rs", "            .and_then(|p| p.document.clone()),", "            .and_then(|_| None),"),
 ("PDI raise after hours needs a reason (Art. 8)", "case/setup.rs", "if raised_after_hours && reason.is_none() {", "if false {"),
 ("PDI raise: a higher service cap", "case/setup.rs", ".is_none_or(|o| cap.max_minutes > o.max_minutes)", ".is_none_or(|o| cap.max_minutes > o.max_minutes + 1000)"),
 ("PDI raise: the overall cap removed", "case/setup.rs", "        (Some(_), None) => true,", "        (Some(_), None) => false,"),
 ("scan check: four eyes", "case/documents.rs", "if scan.uploaded_by == by || file.is_any_responsabile(&by) || file.case_manager == by {", "if false {"),
 ("scan check: by the ATS", "case/documents.rs", "    if ctx.actor.role() != Some(ActorRole::AtsOperator) {\n        return Err(DomainError::NotAtsOperator);\n    }\n    let r = file", "    let r = file"),
 ("scan check: a refusal has a reason", "case/documents.rs", "if !c.accepted && reason.is_none() {", "if false {"),
 ("scan check: once per scan", "case/documents.rs", ".filter(|s| s.check == ScanCheck::AwaitingCheck)", ".filter(|_| true)"),
 ("scan check: a refused scan is replaced", "case/confirmation.rs", ".is_some_and(|s| s.check == ScanCheck::Refused);", ".is_some_and(|_| false);"),
 ("scan check: a new upload awaits its check", "case/evolve.rs", "                    check: ScanCheck::AwaitingCheck,", "                    check: ScanCheck::Checked,"),
 ("voucher: 90 days of suspension in total (§9 E)", "voucher.rs", "            && total > max\n", "            && false\n"),
 ("voucher: only authorised days extend (§9 E)", "voucher.rs", ".filter(|s| s.authorised)", ".filter(|_| true)"),
 ("voucher: at most 15 months (§10)", "voucher.rs", "if max_end < end {", "if false {"),
 ("voucher: not past the end of activities (§11)", "voucher.rs", "            && last < end\n", "            && false\n"),
 ("voucher: suspensions never share a day (§9 E)", "voucher.rs", "if other.overlaps(suspension) {", "if false {"),
 ("voucher: nothing while suspended (§9 E)", "voucher.rs", "if let Some(s) = self.suspension_on(date) {", "if let Some(s) = self.suspension_on(date).filter(|_| false) {"),
 ("voucher: nothing outside the validity (§10)", "voucher.rs", "        if date < self.start || date > validity.end {\n            return Err", "        if false {\n            return Err"),
 ("accesses: only the PI/PEI services (§12)", "voucher.rs", "if !terms.access_services.contains(&d.service) {", "if false {"),
 ("accesses: not while suspended (§12)", "voucher.rs", "if voucher.suspension_on(d.date).is_some() {", "if false {"),
 ("accesses: within the validity (§12)", "voucher.rs", "if d.date < voucher.start || d.date > validity.end {\n            continue;", "if false {\n            continue;"),
 ("accesses: one per day (§12)", "voucher.rs", "u32::try_from(dates.len())", "u32::try_from(days.len())"),
 ("realised: the minimum accesses (§12)", "voucher.rs", "accesses.counted >= accesses.required && objectives_declared", "accesses.counted + 1 >= accesses.required && objectives_declared"),
 ("realised: the objectives declared (§12)", "voucher.rs", "accesses.counted >= accesses.required && objectives_declared", "accesses.counted >= accesses.required"),
 ("flat amounts: the assessment is due with the PI (§12)", "flat_amounts.rs", "&& (matches!(amount.due_when, DueWhen::Document { .. }) || is_realised)", "&& is_realised"),
 ("flat amounts: the realisation amounts need a realised pathway (§12)", "flat_amounts.rs", "&& (matches!(amount.due_when, DueWhen::Document { .. }) || is_realised)", "&& true"),
 ("flat amounts: the PI must be recorded (§12)", "flat_amounts.rs", "if p.documents.contains(document) {\n                    Vec::new()", "if true {\n                    Vec::new()"),
 ("flat amounts: the formal check of the case manager (§9 D)", "flat_amounts.rs", "if is_realised && terms.formal_check && !p.formal_check_passed {", "if false {"),
 ("flat amounts: an interrupted pathway ends (§12)", "flat_amounts.rs", "    if p.interrupted {\n        ended.push", "    if false {\n        ended.push"),
 ("flat amounts: objectives not achieved end it (§12)", "flat_amounts.rs", "if p.objectives_achieved == Some(false) {", "if false {"),
 ("flat amounts: accesses after the validity never come (§10, §12)", "flat_amounts.rs", "if !accesses_open && p.accesses.counted < p.accesses.required {", "if false {"),
 ("flat amounts: the closure procedures end (§11)", "flat_amounts.rs", "        && as_of > by\n", "        && false\n"),
 ("flat amounts: never more than the voucher (§12)", "flat_amounts.rs", "if due.0 > terms.amount_cents.0 {", "if false {"),
 ("payments: the advance needs the PI (§13)", "flat_amounts.rs", "Some(a) if p.documents.contains(&a.document) => {", "Some(a) => {"),
 ("payments: the balance is net of the advance (§13)", "flat_amounts.rs", "balance: Cents(claim.due.0.saturating_sub(advance.0)),", "balance: claim.due,"),
 ("catalogue: flat amounts within the voucher (§12)", "catalogue.rs", "if total.0 > v.amount_cents.0 {", "if false {"),
 ("catalogue: flat amount documents exist (§12)", "catalogue.rs", "                known_document(\"flat amount due_when\", document)?;", "                let _ = document;"),
 ("organisations: the measure's public body kind (§9 C)", "organisations.rs", "let the_asst = self.require(\"asst\", asst, &[public_body])?;", "let the_asst = self.require(\"asst\", asst, &[OrgKind::Asst, OrgKind::AmbitoLead])?;"),
 ("voucher case: a voucher measure needs the voucher (§10)", "case/pathway.rs", "    let AssignVoucher { intensity, start } =\n        c.voucher.as_ref().ok_or(DomainError::VoucherRequired)?;", "    let Some(AssignVoucher { intensity, start }) = c.voucher.as_ref() else {\n        return Ok(None);\n    };"),
 ("voucher case: no voucher outside a voucher measure (§10)", "case/pathway.rs", "Some(_) => Err(DomainError::VoucherNotApplicable),", "Some(_) => Ok(None),"),
 ("voucher case: a known intensity (§12)", "case/pathway.rs", "if !ctx.measure.intensities.iter().any(|i| &i.id == intensity) {", "if false {"),
 ("voucher case: no start after the end of activities (§11)", "case/pathway.rs", "        && start > last\n", "        && false\n"),
 ("voucher case: nothing recorded while suspended or outside the validity (§9 E, §10)", "case/pathway.rs", "    voucher.check_activity_on(terms, date, civil_date(ctx.now))?;\n    Ok(())", "    let _ = (voucher, terms, date);\n    Ok(())"),
 ("voucher case: only the case manager communicates (§9 D-E)", "case/pathway.rs", "    if &file.case_manager == cf {", "    if true {"),
 ("voucher case: a suspension never covers recorded days (§9 E)", "case/pathway.rs", ".find(|e| !e.withdrawn && suspension.covers(e.slot.date))", ".find(|_| false)"),
 ("voucher case: the 90 days checked at reactivation (§9 E)", "case/pathway.rs", "    voucher.check_suspension(terms(ctx.measure)?, &closed, civil_date(ctx.now))?;\n", "    let _ = &closed;\n"),
 ("voucher case: only the Region authorises (§9 E)", "case/pathway.rs", "    if ctx.actor.role() != Some(ActorRole::AtsOperator) {\n        return Err(DomainError::NotAtsOperator);\n    }\n    let voucher", "    let voucher"),
 ("voucher case: one authorisation per suspension (§9 E)", "case/pathway.rs", "    if s.authorised {", "    if false {"),
 ("voucher case: the objectives with the final report (§9 D, §12)", "case/pathway.rs", ".filter(|d| d.kind == kind)", ".filter(|_| true)"),
 ("voucher case: a failed formal check says why (§9 D)", "case/pathway.rs", "    if !c.passed && note.is_none() {", "    if false {"),
 ("voucher case: the formal check after the declaration (§9 D)", "case/state.rs", "check.passed && check.at >= declared.at", "check.passed"),
 ("accesses: only confirmed services (§12)", "flat_amounts.rs", ".filter(|e| e.confirmed && !e.withdrawn)", ".filter(|e| !e.withdrawn)"),
 ("catalogue: a flat-per-output measure prices no hour (§12)", "catalogue.rs", "if let Some(f) = self.figures.iter().find(|f| f.hourly_cost_cents.is_some()) {", "if let Some(f) = self.figures.iter().find(|_| false) {"),
 ("catalogue: an hourly measure prices every figure (Art. 9)", "catalogue.rs", "if let Some(f) = self.figures.iter().find(|f| f.hourly_cost_cents.is_none()) {", "if let Some(f) = self.figures.iter().find(|_| false) {"),
 ("catalogue: staff priced by their own cost records (seed 004)", "catalogue.rs", ".find(|f| f.hourly_cost_cents.is_some() && !f.volunteer)", ".find(|_| false)"),
 ("catalogue: access services exist (§12)", "catalogue.rs", "            for service in &v.access_services {\n                if !services.contains(service) {", "            for service in &v.access_services {\n                if !services.contains(service) && false {"),
]
sel = sys.argv[1:]
survivors = []
for i,(name, f, old, new) in enumerate(muts):
    if sel and str(i) not in sel: continue
    path = ROOT+f
    src = open(path).read()
    n = src.count(old)
    if n != 1:
        print(f"{i} {name}: pattern found {n} times: FAILED (update the mutant)", flush=True)
        survivors.append(i); continue
    open(path,'w').write(src.replace(old,new))
    try:
        r = subprocess.run("cargo test -p diario-domain --no-fail-fast 2>&1", shell=True, capture_output=True, text=True)
        out = r.stdout
        failed = sorted(set(n for n in re.findall(r"^    (\S+)$", out, re.M) if "::" in n or n.startswith("random_") or n.startswith("the_generator")))
        if "error[" in out or "error: could not compile" in out:
            print(f"{i} {name}: does not compile: FAILED (a mutant must compile)", flush=True)
            survivors.append(i)
        elif not failed:
            print(f"{i} {name}: SURVIVED (no test fails without this rule)", flush=True)
            survivors.append(i)
        else:
            print(f"{i} {name}: killed by {len(failed)}: {failed[:4]}", flush=True)
    finally:
        open(path,'w').write(src)
if survivors:
    print(f"{len(survivors)} mutant(s) not killed: {survivors}")
    sys.exit(1)
print("every mutant killed")
