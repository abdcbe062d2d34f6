//! The upload page: self-contained (no external assets), works at any URL (the form posts
//! to the page's own address), works without JavaScript, nicer with it.

use crate::model::Prediction;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One-line verdict, e.g. `dog 0.96 · cat 0.02 — It's a dog!`.
pub fn verdict(p: &Prediction) -> String {
    let tail = match p.label {
        "dog" => "It's a dog!".to_string(),
        "cat" => "It's a cat!".to_string(),
        _ => "Neither a cat nor a dog, I think.".to_string(),
    };
    format!("dog {:.2} · cat {:.2} — {tail}", p.dog, p.cat)
}

pub fn render(result: Option<Result<&Prediction, &str>>) -> String {
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
                esc(&verdict(p)),
                esc(&p.model),
                p.ms
            )
        }
        Some(Err(msg)) => format!("<p class=\"error\">{}</p>", esc(msg)),
    };
    PAGE.replace("{{RESULT}}", &result_html)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cat or dog?</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}form{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}
#preview{max-width:100%;max-height:20rem;margin:1rem 0;display:none;border-radius:.4rem}
.verdict{font-size:1.3rem;font-weight:600}.error{color:#b00020}.meta{color:#777;font-size:.85rem}
.top5 span{color:#555;font-variant-numeric:tabular-nums}button{padding:.4rem 1rem}
</style></head><body>
<h1>Cat or dog?</h1>
<form method="post" enctype="multipart/form-data" id="f">
<input type="file" name="file" accept="image/*" id="file" required>
<button type="submit">Classify</button>
</form>
<img id="preview" alt="preview of the chosen photo">
<div id="result">{{RESULT}}</div>
<script>
(function(){
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
    var t=j.label==='dog'?"It's a dog!":j.label==='cat'?"It's a cat!":'Neither a cat nor a dog, I think.';
    var h='<p class="verdict">dog '+j.dog.toFixed(2)+' · cat '+j.cat.toFixed(2)+' — '+t+'</p><ol class="top5">';
    j.top5.forEach(function(c){h+='<li>'+esc(c.class)+' <span>'+c.p.toFixed(3)+'</span></li>';});
    out.innerHTML=h+'</ol><p class="meta">'+esc(j.model)+' · '+j.ms.toFixed(1)+' ms</p>';
  }).catch(function(e){out.innerHTML='<p class="error">'+esc(e)+'</p>';});
});
})();
</script>
</body></html>
"##;
