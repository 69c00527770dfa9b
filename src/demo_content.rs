//! The demo school's life (features `web`, `notes`, `messagerie`): grades and messages seeded into the demo
//! of [`crate::portal`] through the modules' own actions, as the teachers, parents and staff who would have
//! written them, so that every demo login finds real content on first login: the pupil and the parent see
//! grades and averages in the current period and messages in their inbox, the teacher a filled grid and
//! messages (one of them a parent's reply), the head the class averages and a message from the vie scolaire.
//!
//! The content is dated in the recent past (school days of the current period, the last school day before
//! today for the messages) by a separate assembly on the same store whose clock is set to each moment, so
//! that publication dates, messages' times and the messagerie's opening hours (parents write between 7:30
//! and 19:00 on school days) are those of a real week. Seeding a store that already holds grades does
//! nothing.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use ent_core::clock::{Clock, ManualClock};
use ent_core::directory::query::{self, Responsables};
use ent_core::directory::{Period, PeriodKind, Profile, SchoolYear, Structure, Unit, User};
use ent_core::rights::RightsEngine;
use ent_core::storage::{Record, Scan, Store, TxExt, TxMode};
use ent_core::{Caller, Ent, StructureId, UserId};
use ent_modules::messagerie::Messagerie;
use ent_modules::notes::{Evaluation, Notes};
use serde_json::{Value, json};

use crate::portal::DemoLogin;
use crate::{Error, Result};

/// What [`seed_demo_content`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoContent {
    /// Evaluations created (each with the grades of its whole class).
    pub evaluations: usize,
    /// Grades written.
    pub grades: usize,
    /// Messages sent.
    pub messages: usize,
}

/// At most this many of the demo teacher's teachings get grades (a collège teacher has four to eight).
const MAX_TEACHINGS: usize = 12;

/// Titles of evaluations, by turn.
const TITLES: [&str; 6] =
    ["Contrôle", "Devoir maison", "Interrogation écrite", "Exposé", "Évaluation de compétences", "Contrôle commun"];

/// Seeds grades and messages into the demo school loaded by [`crate::portal::load_demo`], through the notes
/// and messagerie actions. `logins` are the logins `load_demo` returned; `now` is today (the content is dated
/// before it); `messagerie` is the module of the serving assembly (its search index receives the messages
/// when that assembly's workers deliver the events). Does nothing on a store that already holds grades.
pub async fn seed_demo_content(
    store: Arc<dyn Store>,
    messagerie: Messagerie,
    logins: &[DemoLogin],
    now: DateTime<Utc>,
) -> Result<DemoContent> {
    if has_grades(&*store).await? {
        return Ok(DemoContent::default());
    }
    let login =
        |p: Profile| logins.iter().find(|l| l.profile == p).ok_or_else(|| Error::not_found("demo login", p.as_str()));
    let pupil = user_by_login(&*store, &login(Profile::Eleve)?.login).await?;
    let parent = user_by_login(&*store, &login(Profile::Responsable)?.login).await?;
    let teacher = user_by_login(&*store, &login(Profile::Enseignant)?.login).await?;
    let head = user_by_login(&*store, &login(Profile::Direction)?.login).await?;
    let structure = pupil
        .affiliations
        .iter()
        .find(|a| a.profile == Profile::Eleve)
        .map(|a| a.structure)
        .ok_or_else(|| Error::invalid("demo", "the demo pupil has no structure"))?;
    let today = now.date_naive();
    let year = SchoolYear::containing(today);

    // The moment of each piece of content: the messages on the last school day before today, the grades on
    // the school days of the current period before it.
    let message_day = school_days_before(today, 1).into_iter().next().unwrap_or(today);
    let first_day = NaiveDate::from_ymd_opt(year.0, 9, 1).unwrap_or(today);
    let clock = ManualClock::at(at(first_day.min(message_day), 6, 0));
    let ent = assembly(store.clone(), clock.clone(), messagerie).await?;
    set_periods(&ent, &*store, structure, head.id, year, today).await?;
    let period = current_period(&*store, structure, year, message_day).await?;

    // Who gets grades: every subject of the pupil's and the parent's children's classes, and every class
    // and group the demo teacher teaches (their subject only).
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    let mut classes: Vec<Unit> = Vec::new();
    for m in query::units_of(&mut *tx, pupil.id, year).await? {
        classes.push(m.unit);
    }
    for (_, child) in query::children_of(&mut *tx, parent.id, Responsables::WithAuthority).await? {
        classes.extend(query::units_of(&mut *tx, child.id, year).await?.into_iter().map(|m| m.unit));
    }
    classes.retain(|u| matches!(u, Unit::Class(_)));
    let mut seen = Vec::new();
    classes.retain(|u| {
        !seen.contains(u) && {
            seen.push(*u);
            true
        }
    });
    let teachings = query::teachings_of(&mut *tx, teacher.id, year).await?;
    let mut plan = Vec::new();
    let mut planned = |unit: Unit, subject, who, members: &Vec<UserId>| {
        if !plan.iter().any(|(u, s, _, _)| *u == unit && *s == subject) {
            plan.push((unit, subject, who, members.clone()));
        }
    };
    for unit in &classes {
        let members = member_ids(&mut *tx, *unit, year).await?;
        for t in query::teachers_of(&mut *tx, *unit, year, None).await? {
            planned(*unit, t.subject, t.teacher, &members);
        }
    }
    for t in teachings.iter().take(MAX_TEACHINGS) {
        let members = member_ids(&mut *tx, t.unit, year).await?;
        planned(t.unit, t.subject, t.teacher, &members);
    }
    let pupil_class = query::units_of(&mut *tx, pupil.id, year)
        .await?
        .into_iter()
        .map(|m| m.unit)
        .find(|u| matches!(u, Unit::Class(_)));
    let class_teachers = match pupil_class {
        Some(u) => query::teachers_of(&mut *tx, u, year, None).await?,
        None => vec![],
    };
    let staff = query::people(&mut *tx, structure, Profile::VieScolaire, 1, None).await?.items.into_iter().next();
    drop(tx);

    let mut out = DemoContent::default();
    let last = message_day.pred_opt().unwrap_or(message_day).min(period.end);
    let days: Vec<NaiveDate> =
        school_days_before(last + Duration::days(1), 60).into_iter().filter(|d| *d >= period.start).rev().collect();
    if !days.is_empty() {
        // Two evaluations per class and subject (three for the demo teacher), in date order.
        let mut evaluations = Vec::new();
        for (n, (unit, subject, who, members)) in plan.iter().enumerate() {
            let count = if *who == teacher.id { 3 } else { 2 };
            for k in 0..count {
                // The k-th of `count` falls in the k-th stretch of the period so far, the last one recently.
                let stretch = (days.len() / count).max(1);
                let day =
                    days[((k + 1) * days.len() / count).saturating_sub(1 + (n * 3) % stretch).min(days.len() - 1)];
                evaluations.push((day, n, k, *unit, *subject, *who, members));
            }
        }
        evaluations.sort_by_key(|e| (e.0, e.1, e.2));
        for (day, n, k, unit, subject, who, members) in evaluations {
            clock.set(clock.now().max(at(day, 15, (n % 50) as u32)));
            let caller = Caller::user(who, structure, [Profile::Enseignant]);
            let scale = if (n + k) % 4 == 3 { 10 } else { 20 };
            let unit_json = match unit {
                Unit::Class(c) => json!({"kind": "class", "id": c}),
                Unit::Group(g) => json!({"kind": "group", "id": g}),
            };
            let written = ent
                .call_value(
                    &caller,
                    "notes.create_evaluation",
                    json!({
                        "unit": unit_json, "subject": subject, "period": period.index, "date": day,
                        "title": TITLES[(n + k * 2) % TITLES.len()], "scale": scale,
                        "coefficient": if k == 1 { "2" } else { "1" },
                    }),
                )
                .await?;
            let grades: Vec<Value> = members.iter().enumerate().map(|(i, p)| grade(*p, i, n * 7 + k, scale)).collect();
            out.grades += grades.len();
            ent.call_value(&caller, "notes.record_grades", json!({"evaluation": written["id"], "grades": grades}))
                .await?;
            out.evaluations += 1;
        }
    }

    // The messages of the last school day: a teacher of the pupil's class to its parents, the parent's
    // reply, the demo teacher to a class's parents, and the vie scolaire to the pupils and parents of the
    // class, to every teacher and to the head.
    let school_day = |h: u32, m: u32| at(message_day, h, m);
    let writer = class_teachers
        .iter()
        .find(|t| t.teacher == teacher.id)
        .or_else(|| class_teachers.iter().find(|t| t.principal))
        .or(class_teachers.first());
    let send = |caller: Caller, input: Value| {
        let ent = &ent;
        async move { ent.call_value(&caller, "messagerie.send", input).await }
    };
    if let (Some(w), Some(Unit::Class(class))) = (writer, pupil_class) {
        clock.set(clock.now().max(school_day(6, 45)));
        let sent = send(
            Caller::user(w.teacher, structure, [Profile::Enseignant]),
            json!({"to": [{"kind": "class", "id": class, "audience": "parents"}],
                   "subject": "Sortie au musée des Beaux-Arts jeudi",
                   "body": "<p>Madame, Monsieur,</p><p>La classe se rendra au musée des Beaux-Arts jeudi matin. \
                            Départ à 8 h 30 devant le collège, retour pour 12 h. Merci de prévoir un pique-nique \
                            et de signer l'autorisation dans le carnet de liaison.</p><p>Bien cordialement.</p>"}),
        )
        .await?;
        out.messages += 1;
        if let Some(vs) = &staff {
            clock.set(clock.now().max(school_day(8, 20)));
            send(
                Caller::user(vs.id, structure, [Profile::VieScolaire]),
                json!({"to": [{"kind": "class", "id": class, "audience": "members"},
                              {"kind": "class", "id": class, "audience": "parents"}],
                       "subject": "Photo de classe mardi prochain",
                       "body": "<p>Bonjour,</p><p>La photo de classe aura lieu mardi prochain à 10 h dans le \
                                préau. Les bons de commande seront distribués la semaine suivante.</p>\
                                <p>La vie scolaire</p>"}),
            )
            .await?;
            out.messages += 1;
        }
        clock.set(clock.now().max(school_day(10, 5)));
        send(
            Caller::user(parent.id, structure, [Profile::Responsable]),
            json!({"reply_to": sent["id"], "subject": "RE : Sortie au musée des Beaux-Arts jeudi",
                   "body": "<p>Bonjour,</p><p>C'est noté, l'autorisation est signée. Faut-il prévoir un \
                            peu d'argent pour la boutique du musée ?</p><p>Merci et bonne journée.</p>"}),
        )
        .await?;
        out.messages += 1;
    }
    if let Some(Unit::Class(class)) = teachings.iter().map(|t| t.unit).find(|u| Some(*u) != pupil_class) {
        clock.set(clock.now().max(school_day(11, 30)));
        send(
            Caller::user(teacher.id, structure, [Profile::Enseignant]),
            json!({"to": [{"kind": "class", "id": class, "audience": "parents"}],
                   "subject": "Réunion parents-professeurs",
                   "body": "<p>Madame, Monsieur,</p><p>La réunion parents-professeurs aura lieu le jeudi 10 \
                            décembre de 17 h à 20 h. Les rendez-vous se prennent auprès de la vie scolaire.</p>"}),
        )
        .await?;
        out.messages += 1;
    }
    if let Some(vs) = &staff {
        clock.set(clock.now().max(school_day(12, 40)));
        send(
            Caller::user(vs.id, structure, [Profile::VieScolaire]),
            json!({"to": [{"kind": "structure", "profile": "enseignant"}],
                   "subject": "Conseils de classe : saisie des notes",
                   "body": "<p>Bonjour à tous,</p><p>Les conseils de classe du premier trimestre approchent : \
                            merci de saisir vos notes et appréciations avant vendredi soir.</p><p>La vie scolaire</p>"}),
        )
        .await?;
        clock.set(clock.now().max(school_day(13, 10)));
        send(
            Caller::user(vs.id, structure, [Profile::VieScolaire]),
            json!({"to": [{"kind": "user", "id": head.id}],
                   "subject": "Bilan des absences de la semaine",
                   "body": "<p>Bonjour,</p><p>Cette semaine : 42 demi-journées d'absence, dont 6 non justifiées, \
                            et 11 retards. Deux familles ont été contactées.</p><p>La vie scolaire</p>"}),
        )
        .await?;
        out.messages += 2;
    }
    Ok(out)
}

/// A grade that looks like a class's: mostly between 8 and 18 on 20, a few absences.
fn grade(pupil: UserId, i: usize, salt: usize, scale: u32) -> Value {
    let h = (i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503) ^ pupil.0.as_u128() as usize) % 1000;
    if h.is_multiple_of(37) {
        return json!({"pupil": pupil, "status": "Abs"});
    }
    // Each pupil has a level (from their id), each evaluation moves it a little.
    let level = 10 + (pupil.0.as_u128() % 8) as u32; // 10..17 on 20
    let swing = (h % 7) as i64 - 3; // -3..3
    let on20 = (i64::from(level) + swing).clamp(3, 20) as u32;
    let halves = on20 * 2 * scale / 20 + u32::from(h.is_multiple_of(2) && on20 < 20);
    let value = halves.min(scale * 2);
    json!({"pupil": pupil, "value": format!("{}.{}", value / 2, if value % 2 == 1 { "5" } else { "0" })})
}

/// An instant of a day, in UTC (the demo school is in Europe/Paris: one hour later in winter).
fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(hour, minute.min(59), 0).unwrap_or_default())
}

/// Up to `n` school days (Monday to Friday) strictly before `day`, latest first.
fn school_days_before(day: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let mut d = day;
    while out.len() < n {
        let Some(prev) = d.pred_opt() else { break };
        d = prev;
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(d);
        }
    }
    out
}

/// The school year's periods, as the head sets them with `notes.set_period` (the national calendar's
/// usual cut: trimestres end with November and early March, semestres with January), unless the structure
/// has some already. A demo opened in the first three weeks of a period would show an empty page, so the cut
/// before `today` moves back to three weeks before it (the earlier period keeping at least three weeks).
async fn set_periods(
    ent: &Ent,
    store: &dyn Store,
    structure: StructureId,
    head: UserId,
    year: SchoolYear,
    today: NaiveDate,
) -> Result<()> {
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    if tx.count(&Scan::primary(Period::COLLECTION).prefix((structure.0, i64::from(year.0))).limit(1)).await? > 0 {
        return Ok(());
    }
    let kind = tx.get_record::<Structure>(structure).await?.map(|s| s.value.periods).unwrap_or_default();
    drop(tx);
    let y = year.0;
    let d = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let cuts = match kind {
        PeriodKind::Trimestres => {
            vec![(d(y, 9, 1), d(y, 11, 30)), (d(y, 12, 1), d(y + 1, 3, 6)), (d(y + 1, 3, 7), d(y + 1, 7, 4))]
        }
        PeriodKind::Semestres => vec![(d(y, 9, 1), d(y + 1, 1, 31)), (d(y + 1, 2, 1), d(y + 1, 7, 4))],
    };
    let cuts = demo_cuts(cuts, today);
    let caller = Caller::user(head, structure, [Profile::Direction]);
    for (i, (start, end)) in cuts.into_iter().enumerate() {
        ent.call_value(&caller, "notes.set_period", json!({"year": y, "index": i + 1, "start": start, "end": end}))
            .await?;
    }
    Ok(())
}

/// `cuts` with the start of the period `today` falls in moved back to three weeks before `today` when it
/// began less than three weeks ago, so the demo's current period has grades to show.
fn demo_cuts(mut cuts: Vec<(NaiveDate, NaiveDate)>, today: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let weeks = Duration::days(21);
    for i in 1..cuts.len() {
        let start = today - weeks;
        if cuts[i].0 <= today && start < cuts[i].0 && start > cuts[i - 1].0 + weeks {
            cuts[i - 1].1 = start - Duration::days(1);
            cuts[i].0 = start;
        }
    }
    cuts
}

/// The period containing `day`, else the last begun before it, else the first.
async fn current_period(store: &dyn Store, structure: StructureId, year: SchoolYear, day: NaiveDate) -> Result<Period> {
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    let scan = Scan::primary(Period::COLLECTION).prefix((structure.0, i64::from(year.0))).limit(10);
    let periods: Vec<Period> = tx.scan_records::<Period>(&scan).await?.0.into_iter().map(|v| v.value).collect();
    let found = periods
        .iter()
        .find(|p| p.start <= day && day <= p.end)
        .or_else(|| periods.iter().rev().find(|p| p.start <= day))
        .or(periods.first());
    found.cloned().ok_or_else(|| Error::not_found("period of the demo school", year.0.to_string()))
}

async fn member_ids(tx: &mut dyn ent_core::storage::Transaction, unit: Unit, year: SchoolYear) -> Result<Vec<UserId>> {
    Ok(query::members(tx, unit, year, 200, None).await?.items.into_iter().map(|u| u.id).collect())
}

async fn has_grades(store: &dyn Store) -> Result<bool> {
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    Ok(tx.count(&Scan::primary(Evaluation::COLLECTION).limit(1)).await? > 0)
}

async fn user_by_login(store: &dyn Store, login: &str) -> Result<User> {
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    let scan = Scan::index(User::COLLECTION, "by_login").prefix((login,)).limit(1);
    tx.scan_records::<User>(&scan)
        .await?
        .0
        .into_iter()
        .next()
        .map(|v| v.value)
        .ok_or_else(|| Error::not_found("demo user", login))
}

/// The assembly that writes the content, on the serving store, with its own clock.
async fn assembly(store: Arc<dyn Store>, clock: ManualClock, messagerie: Messagerie) -> Result<Ent> {
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let engine = RightsEngine::new(store.clone(), clock.clone());
    Ent::builder(store)
        .clock(clock)
        .authorizer(engine)
        .module(ent_web::Portal)
        .module(Notes)
        .module(messagerie)
        .build()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_begun_less_than_three_weeks_ago_starts_three_weeks_back() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let cuts =
            vec![(d(2026, 9, 1), d(2026, 11, 30)), (d(2026, 12, 1), d(2027, 3, 6)), (d(2027, 3, 7), d(2027, 7, 4))];
        // 2 December: the second trimestre began yesterday; it now begins on 11 November.
        let moved = demo_cuts(cuts.clone(), d(2026, 12, 2));
        assert_eq!(moved[0], (d(2026, 9, 1), d(2026, 11, 10)));
        assert_eq!(moved[1], (d(2026, 12, 1) - Duration::days(20), d(2027, 3, 6)));
        assert_eq!(moved[2], cuts[2]);
        // Well inside a period, or in the first one: unchanged.
        assert_eq!(demo_cuts(cuts.clone(), d(2027, 1, 15)), cuts);
        assert_eq!(demo_cuts(cuts.clone(), d(2026, 9, 10)), cuts);
    }

    #[test]
    fn school_days_skip_weekends() {
        // Sunday 29 November 2026: the school days before are Friday 27, Thursday 26, Wednesday 25.
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let days = school_days_before(sunday, 3);
        assert_eq!(days, [27, 26, 25].map(|d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap()));
    }

    #[test]
    fn grades_stay_on_their_scale() {
        for scale in [10, 20] {
            for i in 0..200 {
                let g = grade(UserId::new(), i, i * 3, scale);
                if let Some(v) = g["value"].as_str() {
                    let v: f64 = v.parse().unwrap();
                    assert!((0.0..=f64::from(scale)).contains(&v), "{v} on {scale}");
                } else {
                    assert_eq!(g["status"], "Abs");
                }
            }
        }
    }
}
