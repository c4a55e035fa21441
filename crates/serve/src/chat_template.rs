//! Chat templates: the Jinja template of `tokenizer_config.json`, rendered as transformers'
//! `apply_chat_template` renders it (`trim_blocks` and `lstrip_blocks` on, `messages`,
//! `add_generation_prompt`, `bos_token`, `eos_token`, `raise_exception`, Python string
//! methods), with a fuel limit so no template or conversation can loop without end.

use crate::error::ApiError;
use minijinja::{Environment, Error, ErrorKind, syntax::SyntaxConfig};
use serde::Serialize;

/// Template instructions one rendering may run.
const FUEL: u64 = 2_000_000;
const NAME: &str = "chat_template";

/// One message as the template sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateMessage {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// The text.
    pub content: String,
}

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token`/`eos_token` are the special tokens' text.
    pub fn new(source: &str, bos_token: String, eos_token: String) -> Result<Self, String> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        env.set_fuel(Some(FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| format!("the chat template does not compile: {e}"))?;
        Ok(Self {
            env,
            bos_token,
            eos_token,
        })
    }

    /// The prompt text for `messages`, ending with the assistant's turn when
    /// `add_generation_prompt`.
    pub fn render(
        &self,
        messages: &[TemplateMessage],
        add_generation_prompt: bool,
    ) -> Result<String, ApiError> {
        let tmpl = self
            .env
            .get_template(NAME)
            .map_err(|e| ApiError::bad_request(format!("chat template: {e}")))?;
        tmpl.render(minijinja::context! {
            messages => minijinja::Value::from(minijinja::value::Serde(messages)),
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.clone(),
            eos_token => self.eos_token.clone(),
        })
        .map_err(|e| ApiError::bad_request(format!("the chat template refused the messages: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Llama 2's template, trimmed.
    const LLAMA2ISH: &str = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'].strip() + ' [/INST]' }}{% else %}{{ ' ' + message['content'].strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    fn msg(role: &str, content: &str) -> TemplateMessage {
        TemplateMessage {
            role: role.into(),
            content: content.into(),
        }
    }

    #[test]
    fn renders_like_transformers_and_reports_template_exceptions() {
        let t = ChatTemplate::new(LLAMA2ISH, "<s>".into(), "</s>".into()).unwrap();
        let out = t
            .render(
                &[
                    msg("user", " hi "),
                    msg("assistant", "hello"),
                    msg("user", "ok"),
                ],
                true,
            )
            .unwrap();
        assert_eq!(out, "<s>[INST] hi [/INST] hello </s>[INST] ok [/INST]");
        let err = t.render(&[msg("assistant", "x")], true).unwrap_err();
        assert!(
            err.message.contains("roles must alternate"),
            "{}",
            err.message
        );
        // A template that never ends runs out of fuel instead of hanging.
        let looping = ChatTemplate::new(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            String::new(),
            String::new(),
        )
        .unwrap();
        assert!(looping.render(&[], true).is_err());
        assert!(ChatTemplate::new("{% for %}", String::new(), String::new()).is_err());
    }
}
