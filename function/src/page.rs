//! The upload page: self-contained (no external assets), works at any URL (the form posts
//! to the page's own address), works without JavaScript, nicer with it.

use std::collections::BTreeMap;

use crate::manifest::Manifest;
use crate::model::Prediction;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page's words: from model.yaml's `page:`, with defaults that give the cat/dog page for a
/// manifest in the cat/dog form and a page naming the labels for any other.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PageText {
    pub title: String,
    /// Sentence for a label without its own entry; `{label}` is replaced.
    pub verdict: String,
    pub verdicts: BTreeMap<String, String>,
    /// Grouped models: the groups, shown with their scores in this order; plain-label
    /// models: empty (the verdict shows the top 3 scores).
    pub groups: Vec<String>,
}

impl PageText {
    /// `labels`: the group names, else the class names (used to word the defaults).
    pub fn new(m: &Manifest, labels: &[String]) -> Self {
        let p = &m.page;
        let other = m.output.other_label.clone();
        let groups: Vec<String> = m
            .groups()
            .map(|g| g.into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default();
        let mut verdicts = BTreeMap::new();
        let (title, verdict) = if m.is_cat_dog_form() {
            verdicts.insert("dog".to_string(), "It's a dog!".to_string());
            verdicts.insert("cat".to_string(), "It's a cat!".to_string());
            verdicts.insert(
                other.clone(),
                "Neither a cat nor a dog, I think.".to_string(),
            );
            ("Cat or dog?".to_string(), "It's {label}!".to_string())
        } else {
            let few = (1..=4).contains(&labels.len());
            let title = if few {
                let mut t = or_list(labels);
                if let Some(c) = t.chars().next() {
                    t = c.to_uppercase().chain(t.chars().skip(1)).collect();
                }
                format!("{t}?")
            } else {
                "What is in this photo?".to_string()
            };
            let none = if few {
                format!("Not {}, I think.", or_list(labels))
            } else {
                "None of the labels I know, I think.".to_string()
            };
            verdicts.insert(other.clone(), none);
            (title, "It's {label}.".to_string())
        };
        verdicts.extend(p.verdicts.clone());
        Self {
            title: p.title.clone().unwrap_or(title),
            verdict: p.verdict.clone().unwrap_or(verdict),
            verdicts,
            groups,
        }
    }

    /// Neutral words for when model.yaml cannot be read (a classification then says why).
    pub fn fallback() -> Self {
        Self {
            title: "What is in this photo?".into(),
            verdict: "It's {label}.".into(),
            verdicts: BTreeMap::new(),
            groups: Vec::new(),
        }
    }

    /// The sentence for `label`.
    pub fn sentence(&self, label: &str) -> String {
        match self.verdicts.get(label) {
            Some(s) => s.clone(),
            None => self.verdict.replace("{label}", label),
        }
    }

    /// One-line verdict, e.g. `dog 0.96 · cat 0.02 — It's a dog!`.
    pub fn verdict(&self, p: &Prediction) -> String {
        let shown: Vec<(String, f32)> = if self.groups.is_empty() {
            p.scores.0.iter().take(3).cloned().collect()
        } else {
            self.groups
                .iter()
                .map(|g| (g.clone(), p.score(g)))
                .collect()
        };
        let scores: Vec<String> = shown.iter().map(|(l, s)| format!("{l} {s:.2}")).collect();
        format!("{} — {}", scores.join(" · "), self.sentence(&p.label))
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

pub fn render(text: &PageText, result: Option<Result<&Prediction, &str>>) -> String {
    let result_html = match result {
        None => String::new(),
        Some(Ok(p)) => {
            let rows: String = p
                .top5
                .iter()
                .map(|t| format!("<li>{} <span>{:.3}</span></li>", esc(&t.class), t.p))
                .collect();
            format!(
                "<p class=\"verdict\">{}</p><ol class=\"top5\">{rows}</ol><p class=\"meta\">{} · {:.1} ms</p>",
                esc(&text.verdict(p)),
                esc(&p.model),
                p.ms
            )
        }
        Some(Err(msg)) => format!("<p class=\"error\">{}</p>", esc(msg)),
    };
    // `<` escaped so no label can close the script element.
    let words = serde_json::to_string(text)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    PAGE.replace("{{TITLE}}", &esc(&text.title))
        .replace("{{WORDS}}", &words)
        .replace("{{RESULT}}", &result_html)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}form{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}
#preview{max-width:100%;max-height:20rem;margin:1rem 0;display:none;border-radius:.4rem}
.verdict{font-size:1.3rem;font-weight:600}.error{color:#b00020}.meta{color:#777;font-size:.85rem}
.top5 span{color:#555;font-variant-numeric:tabular-nums}button{padding:.4rem 1rem}
</style></head><body>
<h1>{{TITLE}}</h1>
<form method="post" enctype="multipart/form-data" id="f">
<input type="file" name="file" accept="image/*" id="file" required>
<button type="submit">Classify</button>
</form>
<img id="preview" alt="preview of the chosen photo">
<div id="result">{{RESULT}}</div>
<script>
(function(){
var W={{WORDS}};
var f=document.getElementById('f'),inp=document.getElementById('file'),
    pv=document.getElementById('preview'),out=document.getElementById('result');
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
inp.addEventListener('change',function(){
  var file=inp.files&&inp.files[0]; if(!file){pv.style.display='none';return;}
  pv.src=URL.createObjectURL(file); pv.style.display='block'; out.innerHTML='';
});
f.addEventListener('submit',function(ev){
  if(!window.fetch||!window.FormData)return;
  ev.preventDefault(); out.innerHTML='<p class="meta">Classifying…</p>';
  fetch(window.location.href,{method:'POST',body:new FormData(f),headers:{'Accept':'application/json'}})
  .then(function(r){return r.json();}).then(function(j){
    if(j.error){out.innerHTML='<p class="error">'+esc(j.message)+'</p>';return;}
    var t=W.verdicts.hasOwnProperty(j.label)?W.verdicts[j.label]:W.verdict.split('{label}').join(j.label);
    var sc=j.scores||{},shown=W.groups.length?W.groups:Object.keys(sc).sort(function(a,b){return sc[b]-sc[a];}).slice(0,3);
    var v=shown.map(function(l){return l+' '+(sc[l]||0).toFixed(2);}).join(' · ');
    var h='<p class="verdict">'+esc(v+' — '+t)+'</p><ol class="top5">';
    j.top5.forEach(function(c){h+='<li>'+esc(c.class)+' <span>'+c.p.toFixed(3)+'</span></li>';});
    out.innerHTML=h+'</ol><p class="meta">'+esc(j.model)+' · '+j.ms.toFixed(1)+' ms</p>';
  }).catch(function(e){out.innerHTML='<p class="error">'+esc(e)+'</p>';});
});
})();
</script>
</body></html>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labeller;

    fn text(output: &str, page: &str) -> PageText {
        let yaml = format!(
            "name: m\nonnx: m.onnx\ninput: {{width: 8, height: 8, layout: NCHW, resize: bilinear, \
             crop: squash, mean: [0, 0, 0], std: [1, 1, 1]}}\noutput:\n  activation: softmax\n\
             {output}{page}"
        );
        let m: Manifest = serde_saphyr::from_str(&yaml).unwrap();
        let names = Labeller::new(&m, m.output.classes.clone()).label_names();
        PageText::new(&m, &names)
    }

    #[test]
    fn the_cat_dog_form_gets_the_cat_dog_page_and_others_name_their_labels() {
        let t = text("  dog: [[1, 2]]\n  cat: [[3, 4]]\n", "");
        assert_eq!(t.title, "Cat or dog?");
        assert_eq!(t.sentence("dog"), "It's a dog!");
        assert_eq!(t.sentence("cat"), "It's a cat!");
        assert_eq!(t.sentence("other"), "Neither a cat nor a dog, I think.");
        assert_eq!(t.groups, ["dog", "cat"]);

        let t = text("  labels: [red, green, blue]\n", "");
        assert_eq!(t.title, "Red, green or blue?");
        assert_eq!(t.sentence("green"), "It's green.");
        assert_eq!(t.sentence("other"), "Not red, green or blue, I think.");
        assert!(t.groups.is_empty());

        let t = text(
            "  labels: [red, green]\n  other_label: unsure\n",
            "page:\n  title: Colours <b>\n  verdict: 'Mostly {label}!'\n  verdicts:\n    \
             unsure: Hard to say.\n",
        );
        assert_eq!(t.sentence("red"), "Mostly red!");
        assert_eq!(t.sentence("unsure"), "Hard to say.");
        let html = render(&t, None);
        assert!(html.contains("<h1>Colours &lt;b&gt;</h1>"), "title escaped");
        assert!(html.contains(r#""unsure":"Hard to say.""#));
        assert!(!html.contains("{{"), "every placeholder filled");
    }
}
