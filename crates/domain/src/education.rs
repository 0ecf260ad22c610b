//! Health-education articles (A6): short, plain-language texts a doctor sends in a consultation and
//! the patient saves to their personal health record with one tap. Bundled with the platform in
//! Chinese and English; general guidance, not a diagnosis.

/// One article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Article {
    pub slug: &'static str,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub body_zh: &'static str,
    pub body_en: &'static str,
}

pub static ARTICLES: &[Article] = &[
    Article {
        slug: "home-blood-pressure",
        title_zh: "如何在家正确测血压",
        title_en: "Measuring blood pressure at home",
        body_zh: "测量前30分钟不吸烟、不喝咖啡、不运动，排空膀胱，安静坐5分钟。\n坐在有靠背的椅子上，双脚平放，手臂放在桌上，袖带与心脏同高，袖带下缘在肘窝上方2–3厘米。\n每次测2–3遍，间隔1分钟，记录平均值。早晨服药前和晚上睡前各测一次，连续记录一周带给医生看。\n如果血压高于180/110 mmHg，或伴胸痛、剧烈头痛、说话不清、一侧肢体无力，请立即拨打120。",
        body_en: "For 30 minutes before measuring, do not smoke, drink coffee or exercise; empty your bladder and sit quietly for 5 minutes.\nSit on a chair with a back, feet flat, arm resting on a table, the cuff at heart level and its lower edge 2–3 cm above the elbow crease.\nTake 2–3 readings one minute apart and note the average. Measure in the morning before medicines and in the evening before bed, and bring a week of readings to your doctor.\nIf your blood pressure is above 180/110 mmHg, or you have chest pain, a severe headache, slurred speech or weakness on one side, call 120 at once.",
    },
    Article {
        slug: "low-salt-diet",
        title_zh: "高血压患者的低盐饮食",
        title_en: "A low-salt diet for high blood pressure",
        body_zh: "每人每天食盐不超过5克（约一啤酒瓶盖）。酱油、咸菜、腊肉、方便面和零食里都含有大量的盐。\n做菜出锅前再放盐，用醋、葱姜蒜和香料调味。多吃新鲜蔬菜水果、全谷物和低脂奶类。\n控制体重、戒烟限酒、每周至少5天中等强度运动30分钟，同样有助于降压。不要自行停药或改变剂量。",
        body_en: "Keep salt below 5 g a day (about one beer-bottle cap). Soy sauce, pickles, cured meat, instant noodles and snacks contain a lot of salt.\nAdd salt at the end of cooking and season with vinegar, spring onion, ginger, garlic and spices. Eat plenty of fresh vegetables, fruit, whole grains and low-fat dairy.\nKeeping a healthy weight, not smoking, drinking little alcohol and 30 minutes of moderate exercise on at least 5 days a week also lower blood pressure. Do not stop or change your medicines on your own.",
    },
    Article {
        slug: "low-blood-sugar",
        title_zh: "认识和处理低血糖",
        title_en: "Recognising and treating low blood sugar",
        body_zh: "使用胰岛素或部分降糖药时可能发生低血糖（血糖低于3.9 mmol/L）。常见表现：心慌、出汗、手抖、饥饿、头晕、意识模糊。\n一旦出现，立即吃15克糖：如3–4块方糖、半杯果汁或含糖饮料，15分钟后复测，仍低则再吃一次，好转后吃些主食。\n随身携带糖果和病情卡。如果意识不清、无法吞咽，不要喂食，立即拨打120。",
        body_en: "Low blood sugar (below 3.9 mmol/L) can happen with insulin and some diabetes tablets. Signs: pounding heart, sweating, shaking, hunger, dizziness, confusion.\nIf it happens, take 15 g of sugar at once — 3–4 sugar cubes, half a glass of juice or a sugary drink — and check again after 15 minutes; repeat if still low, then eat a snack with starch.\nCarry sweets and a card about your condition. If someone is unconscious or cannot swallow, do not give food or drink; call 120.",
    },
    Article {
        slug: "diabetic-foot-care",
        title_zh: "糖尿病患者的足部护理",
        title_en: "Foot care with diabetes",
        body_zh: "每天检查双脚，看有没有破皮、水泡、红肿或颜色变化，看不清脚底可以用镜子或请家人帮忙。\n用温水（低于37℃，先用手肘试温）洗脚，擦干脚趾缝。平剪趾甲，不要自己处理鸡眼。\n穿合脚的鞋和浅色棉袜，不要赤脚走路，不用热水袋暖脚。发现伤口不愈合或发黑，请尽快就医。",
        body_en: "Check both feet every day for broken skin, blisters, redness, swelling or colour change; use a mirror or ask a family member for the soles.\nWash with warm water (below 37 °C — test it with your elbow) and dry between the toes. Cut nails straight across and never treat corns yourself.\nWear well-fitting shoes and light cotton socks, never walk barefoot and do not warm your feet with hot-water bottles. See a doctor soon about any wound that does not heal or turns dark.",
    },
    Article {
        slug: "stroke-signs",
        title_zh: "识别中风：“BE FAST”口诀",
        title_en: "Spotting a stroke: BE FAST",
        body_zh: "B（平衡）：突然走路不稳、头晕；E（眼睛）：突然看不清或看东西重影；F（面部）：口角歪斜；A（手臂）：一侧手臂无力、抬不起来；S（言语）：说话含糊或听不懂别人说话；T（时间）：出现以上任一情况，立即拨打120，并记下发病时间。\n中风治疗越早越好，不要等待症状自行好转，也不要自行服药。",
        body_en: "B (balance): sudden unsteadiness or dizziness; E (eyes): sudden blurred or double vision; F (face): one side of the face droops; A (arms): one arm is weak and cannot be raised; S (speech): slurred speech or trouble understanding; T (time): if you notice any of these, call 120 at once and note the time it started.\nStroke treatment works best early: do not wait for the symptoms to pass and do not take medicines on your own.",
    },
];

/// The article with this slug.
pub fn find(slug: &str) -> Option<&'static Article> {
    ARTICLES.iter().find(|a| a.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_article_is_complete_and_unique() {
        let mut slugs: Vec<_> = ARTICLES.iter().map(|a| a.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), ARTICLES.len());
        for a in ARTICLES {
            assert!(
                !a.title_zh.is_empty() && !a.title_en.is_empty() && a.body_zh.len() > 50 && a.body_en.len() > 50,
                "{}",
                a.slug
            );
            assert!(a.slug.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        }
        assert!(find("stroke-signs").is_some());
        assert!(find("nope").is_none());
    }
}
