//! The ingest stage, shared by every way a story comes in — a poll, an import, the re-read of
//! stored stories after a profile change, and the fuzz target: canonicalise the URL (with the
//! configured tracking parameters) → classify (stance) → sign (for dedup). Settings come from one
//! place ([`Ingest::new`]), and the reader and signer are panic-guarded here only: a story they
//! cannot read is stored unread rather than lost, and the process goes on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::dedup::{DedupSettings, Signer, canonical_url_with};
use crate::feed::NewStory;
use crate::stance::{Classification, Classifier, StoryText};

pub struct Ingest {
    classifier: Arc<Classifier>,
    signer: Arc<Signer>,
    /// `[dedup] tracking_params`: removed from URLs beside the built-in ones.
    tracking_params: Vec<String>,
}

impl Ingest {
    pub fn new(classifier: Arc<Classifier>, dedup: &DedupSettings) -> Ingest {
        let signer = Arc::new(Signer::with_matcher(classifier.entity_matcher(), classifier.profile(), dedup.clone()));
        Ingest { classifier, signer, tracking_params: dedup.extra_tracking_params.clone() }
    }

    pub fn classifier(&self) -> &Arc<Classifier> {
        &self.classifier
    }

    pub fn signer(&self) -> &Arc<Signer> {
        &self.signer
    }

    /// A URL's canonical form under the configured tracking parameters.
    pub fn canonical_url(&self, url: &str) -> Option<String> {
        canonical_url_with(url, &self.tracking_params)
    }

    /// Every stage for stories about to be stored (CPU work: call it off the async threads).
    pub fn prepare(&self, stories: &mut [NewStory]) {
        for s in stories {
            s.canonical_url = s.url.as_deref().and_then(|u| self.canonical_url(u));
            let text = StoryText {
                title: &s.title,
                summary: &s.summary,
                content: &s.content,
                published: Some(s.published_at.date_naive()),
            };
            s.classification = self.classify(&text);
            s.signature = catch_unwind(AssertUnwindSafe(|| {
                self.signer.sign(&s.title, &s.summary, s.canonical_url.as_deref(), s.published_at)
            }))
            .ok();
        }
    }

    /// The stance reading of one story; None if the reader panicked on it (it must not on any
    /// input; should it ever, the story is stored unread rather than lost).
    pub fn classify(&self, text: &StoryText) -> Option<Classification> {
        let reading = catch_unwind(AssertUnwindSafe(|| self.classifier.classify(text)));
        if reading.is_err() {
            tracing::error!(title = %text.title, "the stance reader failed on a story; it is stored unread");
        }
        reading.ok()
    }
}

/// Stories read again per transaction.
const REREAD_BATCH: usize = 1_000;

impl Ingest {
    /// Read stored stories again when the profile or the engine changed since they were read (or
    /// they never were), so the history agrees with the rules in force. Returns how many were
    /// read. Batches commit one by one and the fingerprint is saved last, so an interrupted pass
    /// starts over and loses nothing.
    pub fn reread_stored(&self, store: &mut crate::store::Store) -> anyhow::Result<usize> {
        let want = self.classifier.fingerprint();
        let only_unread = store.reading_fingerprint()?.as_deref() == Some(want.as_str());
        let (mut after, mut total) = (0i64, 0usize);
        loop {
            let batch = store.stories_to_read(after, only_unread, REREAD_BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            let readings: Vec<(i64, Classification)> = batch
                .iter()
                .filter_map(|s| {
                    let text =
                        StoryText { title: &s.title, summary: &s.summary, content: &s.content, published: s.published };
                    self.classify(&text).map(|c| (s.id, c))
                })
                .collect();
            store.save_readings(&readings)?;
            total += batch.len();
        }
        store.set_reading_fingerprint(&want)?;
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest(tracking: &[&str]) -> Ingest {
        let classifier = Arc::new(Classifier::new(crate::stance::Profile::builtin()));
        let dedup = DedupSettings {
            extra_tracking_params: tracking.iter().map(|t| t.to_string()).collect(),
            ..DedupSettings::default()
        };
        Ingest::new(classifier, &dedup)
    }

    #[test]
    fn every_story_is_canonicalised_with_the_configured_parameters_classified_and_signed() {
        let mut stories = vec![NewStory::new("Meta releases Llama 5 as open weights", chrono::Utc::now())];
        stories[0].url = Some("https://Example.org/a?cid=feed&utm_source=x&id=7".into());
        ingest(&["cid"]).prepare(&mut stories);
        let s = &stories[0];
        assert_eq!(s.canonical_url.as_deref(), Some("https://example.org/a?id=7"));
        assert!(s.classification.as_ref().is_some_and(|c| c.relevant));
        assert!(s.signature.is_some());
        // Without the setting, `cid` is part of the address.
        let mut plain = vec![stories[0].clone()];
        ingest(&[]).prepare(&mut plain);
        assert_eq!(plain[0].canonical_url.as_deref(), Some("https://example.org/a?cid=feed&id=7"));
    }
}
